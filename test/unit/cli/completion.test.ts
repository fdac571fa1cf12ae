import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argumentKind, completionCandidates, type CompletionSources } from '../../../agent/cli/completion.js';
import { VERBS, findVerb } from '../../../agent/cli/verbs/index.js';

const asked: string[] = [];
const sources: CompletionSources = {
  verbs: VERBS.filter((v) => !v.hidden).map((v) => v.name),
  loadVerb: async (name) => findVerb(name)?.load(),
  names: async (kind) => { asked.push(kind); return kind === 'containers' ? ['web', 'worker', 'db'] : ['example.com/app', 'example.com/db']; },
};

test('completion: verbs, sub-verbs, options, option values left to the shell', async () => {
  assert.deepEqual(await completionCandidates(['st'], sources), ['status', 'start', 'stop']);
  assert.deepEqual(await completionCandidates(['__'], sources), [], 'the hidden verb is not offered');
  assert.deepEqual(await completionCandidates(['--v'], sources), ['--version']);
  assert.deepEqual(await completionCandidates(['update', ''], sources), ['status', 'check', 'apply', 'reset', 'rollback', 'containers']);
  assert.deepEqual(await completionCandidates(['update', 'containers', '--n'], sources), ['--now']);
  assert.deepEqual(await completionCandidates(['logs', '-'], sources), ['--user', '--system', '--help', '-h', '--follow', '-f', '--lines', '-n', '--since', '--output', '-o']);
  assert.deepEqual(await completionCandidates(['logs', '--since', ''], sources), []);
  assert.deepEqual(await completionCandidates(['help', 'lo'], sources), ['lock', 'logs']);
  assert.deepEqual(await completionCandidates(['nope', ''], sources), []);
});

test('completion: container and image names from the agent where the synopsis names them', async () => {
  asked.length = 0;
  assert.deepEqual(await completionCandidates(['logs', 'w'], sources), ['web', 'worker']);
  assert.deepEqual(await completionCandidates(['restart', ''], sources), ['web', 'worker', 'db']);
  assert.deepEqual(await completionCandidates(['image', 'rm', 'example.com/a'], sources), ['example.com/app']);
  assert.deepEqual(await completionCandidates(['run', ''], sources), ['example.com/app', 'example.com/db']);
  assert.deepEqual(await completionCandidates(['image', 'list', ''], sources), []);
  assert.deepEqual(asked, ['containers', 'containers', 'images', 'images']);
  assert.equal(argumentKind('NAME [-f]', undefined), 'containers');
  assert.equal(argumentKind('validate FILE | rm ID|NAME…', 'rm'), 'images');
  assert.equal(argumentKind('[--json]', undefined), undefined);
});
