import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingInhibitors, describeInhibitors, type Inhibitor } from '../../../../agent/host/reboot/inhibitors.js';

const inhibitor = (what: string, mode: string, pid = 200, who = 'backup'): Inhibitor =>
  ({ what, who, why: 'copying', mode, uid: 0, pid });

test('shutdown inhibitors of other programs postpone, in block and delay mode', () => {
  const cases: Array<[Inhibitor, boolean]> = [
    [inhibitor('shutdown', 'block'), true],
    [inhibitor('shutdown', 'delay'), true],
    [inhibitor('sleep:shutdown:idle', 'block'), true],
    [inhibitor('sleep', 'block'), false],
    [inhibitor('idle:handle-power-key', 'block'), false],
    [inhibitor('shutdownx', 'block'), false],
    [inhibitor('shutdown', 'block', 100), false], // the agent's own
  ];
  for (const [i, blocks] of cases) {
    assert.equal(blockingInhibitors([i], 100).length, blocks ? 1 : 0, `${i.what} ${i.mode} pid ${i.pid}`);
  }
});

test('the status sentence names who holds it and why', () => {
  assert.equal(describeInhibitors([inhibitor('shutdown', 'block'), { ...inhibitor('shutdown', 'delay', 7, ''), why: '' }]),
    'a shutdown inhibitor is held by backup (pid 200: copying, block), unknown (pid 7, delay)');
});
