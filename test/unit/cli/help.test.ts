import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../../agent/cli/run.js';
import { closest } from '../../../agent/cli/suggest.js';
import { editDistance } from '../../../agent/core/text/edit-distance.js';
import { argumentCount, helpEntries } from '../../../agent/cli/usage.js';
import { captureIo as io } from '../../lib/cli-io.js';


test('did you mean: edit distance with swaps, unique prefixes, nothing when far', () => {
  assert.equal(editDistance('stauts', 'status'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(closest('stauts', ['status', 'start', 'stop']), 'status');
  assert.equal(closest('imag', ['image', 'images', 'list']), 'image');
  assert.equal(closest('--jsn', ['--json', '--user']), '--json');
  assert.equal(closest('frobnicate', ['status', 'list']), undefined);
  assert.equal(closest('st', ['status', 'start', 'stop']), undefined, 'an ambiguous prefix guesses nothing');
});

test('usage errors name the nearest verb, sub-verb or option, in one line, exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['stauts'], /^agentctl: unknown verb "stauts"\. Did you mean "status"\? /],
    [['status', '--jsn'], /^agentctl: status has no option --jsn\. Did you mean --json\? /],
    [['image', 'lsit'], /^agentctl: unknown sub-verb "image lsit"\. Did you mean "list"\? Sub-verbs: validate, list/],
    [['update', 'stats'], /Did you mean "status"\?/],
    [['help', 'lgos'], /^agentctl: unknown verb "lgos"\. Did you mean "logs"\?/],
    [['image', 'rm'], /^agentctl: image rm takes at least 1 argument, got 0\. Usage: agentctl image rm ID\|NAME…/],
    [['fetch'], /^agentctl: fetch takes at least 1 argument, got 0\./],
    [['logs', 'web', '--since', '-1h'], /^agentctl: the value given to --since starts with "-"\. Write it as --since=VALUE/],
  ];
  for (const [argv, expected] of cases) {
    const s = io();
    assert.equal(await runCli(argv, s), 2, argv.join(' '));
    assert.match(s.err(), expected);
    assert.equal(s.err().trim().split('\n').length, 1);
    assert.doesNotMatch(s.err(), /Infinity|argument\(s\)/);
  }
});

test('argument counts in words', () => {
  assert.equal(argumentCount({ min: 0, max: 0 }), 'no arguments');
  assert.equal(argumentCount({ min: 1, max: 1 }), '1 argument');
  assert.equal(argumentCount({ min: 0, max: 2 }), '0 to 2 arguments');
  assert.equal(argumentCount({ min: 1, max: Infinity }), 'at least 1 argument');
  assert.equal(argumentCount({ min: 1, max: Number.MAX_SAFE_INTEGER }), 'at least 1 argument');
});

test('help and version verbs; per-sub-verb help shows that sub-verb and its options only', async () => {
  const h = io();
  assert.equal(await runCli(['help'], h), 0);
  assert.match(h.out(), /^ {2}status +Show the agent/m);
  assert.doesNotMatch(h.out(), /__complete/);
  const v = io();
  assert.equal(await runCli(['version'], v), 0);
  assert.match(v.out(), /^agentctl \d+\.\d+\.\d+/);
  const hv = io();
  assert.equal(await runCli(['help', 'logs'], hv), 0);
  assert.match(hv.out(), /^Usage: agentctl logs NAME/);
  const sub = io();
  assert.equal(await runCli(['update', 'status', '--help'], sub), 0);
  assert.match(sub.out(), /^Usage: agentctl update status \[--json\|--format=env\]\n\nthe update status;/);
  assert.match(sub.out(), /--format=env/);
  assert.doesNotMatch(sub.out(), /rollback/);
  const other = io();
  assert.equal(await runCli(['help', 'update', 'containers'], other), 0);
  assert.doesNotMatch(other.out(), /--format=env/, 'an option marked (status) is not shown for containers');
});

test('help entries: terms, continuation lines, prose', () => {
  const entries = helpEntries('  -f, --follow   keep going\n                 and going\n  A NAME may carry labels: x\n');
  assert.deepEqual(entries, [{ term: '-f, --follow', text: ['keep going', 'and going'] }, { term: '', text: ['A NAME may carry labels: x'] }]);
});
