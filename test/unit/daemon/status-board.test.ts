/**
 * How the status board publishes: a change after a quiet time goes out after the 50 ms
 * coalescing delay; while changes keep coming, at most one status every 500 ms; flush
 * publishes at once. Real timers (about 1.5 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentStatus, UpdateStatusDocument } from '../../../agent/api/agent1.js';
import { StatusBoard } from '../../../agent/daemon/status-board.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function board(): { board: StatusBoard; published: Array<{ at: number; status: AgentStatus }> } {
  const b = new StatusBoard('0.0.0', { bus: 'session', connected: true }, { path: '/c.yaml', state: 'ok', entries: [] }, { state: 'IDLE' } as UpdateStatusDocument);
  const published: Array<{ at: number; status: AgentStatus }> = [];
  b.onChange((status) => published.push({ at: performance.now(), status }));
  return { board: b, published };
}

test('a change after a quiet time is published within the coalescing delay, with every change made meanwhile', async () => {
  const { board: b, published } = board();
  const start = performance.now();
  b.setState('running');
  b.updateUnit({ name: 'a.service', description: '', loadState: 'loaded', activeState: 'active', subState: 'running', mainPid: 1, nRestarts: 0, execMainStatus: 0 });
  await sleep(120);
  assert.equal(published.length, 1);
  assert.ok(published[0]!.at - start < 300, `published after ${published[0]!.at - start} ms`);
  assert.equal(published[0]!.status.state, 'running');
  assert.deepEqual(published[0]!.status.units.map((u) => u.name), ['a.service']);
});

test('a burst of changes is published at most every 500 ms, the last state included', async () => {
  const { board: b, published } = board();
  const start = performance.now();
  for (let i = 0; i < 120; i++) {
    b.setConfig({ path: '/c.yaml', state: 'ok', entries: [], loadedAt: String(i) });
    await sleep(10);
  }
  await sleep(600);
  const gaps = published.slice(1).map((p, i) => p.at - published[i]!.at);
  const elapsed = performance.now() - start;
  assert.ok(published.length >= 2 && published.length <= elapsed / 500 + 1, `${published.length} statuses over ${Math.round(elapsed)} ms`);
  for (const gap of gaps) assert.ok(gap >= 490, `a gap of ${gap} ms`);
  assert.equal(published.at(-1)!.status.config.loadedAt, '119');
});

test('flush publishes at once', () => {
  const { board: b, published } = board();
  b.setState('stopping');
  b.flush();
  assert.equal(published.length, 1);
  assert.equal(published[0]!.status.state, 'stopping');
});
