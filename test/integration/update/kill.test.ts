import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cgptAttributes, gptProblems } from '../../lib/disk.js';
import { markBootedGood } from '../../../agent/host/update/mark.js';
import { makeWorld, suiteFixtures, versionIn, type World } from './helpers/world.js';


const fixtures = suiteFixtures();


const CHILD = fileURLToPath(new URL('./helpers/install-child.ts', import.meta.url));
const ROUNDS = 24;
const PARALLEL = 3;

type KillPoint = { bytes: number } | { state: 'VERIFYING' | 'FINALIZING' | 'UPDATED_NEED_REBOOT' };

/** Run an install in a child process and SIGKILL it at `point`; resolves with what it reached. */
async function installAndKill(t: { after(fn: () => unknown): void }, w: World, point: KillPoint): Promise<string> {
  const options = {
    ...w.paths,
    server: w.server.url,
    group: 'stable',
    currentVersion: '1.0.0',
    retryDelayMs: 0,
    checkpointBytes: 96 * 1024,
    chunkBytes: 16 * 1024,
    trustedKey: w.key.armored,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let reached = 'none';
  for await (const line of createInterface({ input: child.stdout })) {
    const event = JSON.parse(line) as { kind: string; bytesDone?: number };
    reached = event.kind === 'DOWNLOADING' ? `DOWNLOADING@${event.bytesDone}` : event.kind;
    const hit = 'bytes' in point ? event.kind === 'DOWNLOADING' && (event.bytesDone ?? 0) >= point.bytes : event.kind === point.state;
    if (hit) {
      child.kill('SIGKILL');
      break;
    }
  }
  await exited;
  return reached;
}

test(`kill -9 at ${ROUNDS} points of the install: the next boot always runs a released image`, async (t) => {
  let resumed = 0;
  let tornTables = 0;
  const seen: string[] = [];
  const runRound = async (round: number): Promise<void> => {
    const w = await makeWorld(t, fixtures.template, fixtures.keys, { throttleMs: 2 }, 1024 * 1024 + 4321);
    const { release } = await w.publish('2.0.0', { compression: round % 4 === 3 ? 'xz' : 'none' });
    const size = release.payload.size;
    const states = ['VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT'] as const;
    const point: KillPoint = round % 6 === 5 ? { state: states[Math.floor(round / 6) % 3]! } : { bytes: Math.floor(Math.random() * size) };
    const reached = await installAndKill(t, w, point);
    seen[round] = reached;

    // The A slot was never touched; a kill between the two GPT copies may leave one copy
    // stale or torn, never both; and the bootloader finds a released image.
    assert.equal(await versionIn(w, 'A'), '1.0.0');
    const problems = await gptProblems(w.disk.path);
    assert.ok(!(/INVALID\s+Pri GPT/.test(problems) && /INVALID\s+Sec GPT/.test(problems)), `round ${round}: both GPT copies damaged\n${problems}`);
    if (problems !== '') tornTables++;
    const b = await cgptAttributes(w.disk.path, 'B');
    const boot = await w.boot();
    const version = await versionIn(w, boot.slot);
    assert.ok(version === '1.0.0' || version === '2.0.0', `round ${round} (${reached}): booted ${boot.slot} holds no release`);
    if (boot.slot === 'B') {
      assert.equal(version, '2.0.0');
      assert.equal(b.tries, 1);
      await markBootedGood({ ...w.paths, bootedVersion: '2.0.0', healthCheck: async () => true });
      assert.equal(await gptProblems(w.disk.path), '', `round ${round}: the next table write repairs both copies`);
      return;
    }
    assert.equal(b.priority === 0 || b.tries === 0, true, `B must not be bootable before it is verified (round ${round})`);

    // The interrupted install completes on the next run, resuming when it can.
    const result = await w.engine({ checkpointBytes: 96 * 1024, chunkBytes: 16 * 1024 }).update();
    assert.equal(result?.target, 'B');
    if (result!.resumedFrom > 0) resumed++;
    assert.equal(await gptProblems(w.disk.path), '', `round ${round}: the next table write repairs both copies`);
    assert.equal((await w.boot()).slot, 'B');
    assert.equal(await versionIn(w, 'B'), '2.0.0');
  };
  // Rounds are independent hosts; run a few at a time to keep the suite fast.
  for (let first = 0; first < ROUNDS; first += PARALLEL) {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ROUNDS - first) }, (_, i) => runRound(first + i)));
  }
  t.diagnostic(`kill points reached: ${seen.join(', ')}`);
  t.diagnostic(`GPT copies left differing by the kill in ${tornTables} rounds (repaired by the next write)`);
  t.diagnostic(`resumed from a checkpoint in ${resumed} of ${ROUNDS} rounds`);
  assert.ok(resumed > 0, 'at least one run resumed from its journal');
});
