import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { journalArgs, pipeChild, readsSystemJournal } from '../../../agent/cli/verbs/logs.js';
import type { CliContext } from '../../../agent/cli/verb.js';

const GROUPS = 'root:x:0:\nadm:x:4:alice\nsystemd-journal:x:101:\nusers:x:100:\n';

test('journal access: root, or a member of systemd-journal, adm or wheel', () => {
  assert.equal(readsSystemJournal(0, [], ''), true);
  assert.equal(readsSystemJournal(1000, [100], GROUPS), false);
  assert.equal(readsSystemJournal(1000, [100, 101], GROUPS), true);
  assert.equal(readsSystemJournal(1000, [4], GROUPS), true);
  assert.equal(readsSystemJournal(1000, [4], ''), false, 'no group file: no group is known to grant it');
});

test('journalctl arguments: timestamps by default, --since, -n, -o json, -f, the user manager', () => {
  const base = { unit: 'container-web.service', bus: 'system' as const, lines: undefined, since: undefined, output: 'short-iso', follow: false };
  assert.deepEqual(journalArgs(base), ['--unit', 'container-web.service', '-n', '100', '--no-pager', '-o', 'short-iso']);
  assert.deepEqual(journalArgs({ ...base, since: '-1h' }), ['--unit', 'container-web.service', '--since', '-1h', '--no-pager', '-o', 'short-iso'], 'all lines since');
  assert.deepEqual(journalArgs({ ...base, bus: 'session', lines: '5', output: 'json', follow: true }),
    ['--user-unit', 'container-web.service', '-n', '5', '--no-pager', '-o', 'json', '-f']);
});

test('follow interrupted by Ctrl-C exits 130; a child that ends by itself gives its own status', async () => {
  const ctx = { stdout: new PassThrough(), stderr: new PassThrough(), env: process.env } as unknown as CliContext;
  const following = pipeChild(ctx, 'sleep', ['30']);
  await new Promise((r) => setTimeout(r, 100));
  process.emit('SIGINT');
  assert.equal(await following, 130);
  assert.equal(await pipeChild(ctx, 'sh', ['-c', 'exit 4']), 4);
  assert.equal(process.listenerCount('SIGINT'), 0, 'no handler left behind');
});
