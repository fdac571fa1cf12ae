/**
 * What a payload may do, read from inside real containers on a (sandboxed) systemd
 * manager: an nspawn payload has exactly podman's 11 default capabilities (or what the
 * image's capabilities isolators ask for), not nspawn's 25 (and, sharing the host's
 * network in a user namespace, nspawn drops CAP_NET_BIND_SERVICE); a fly payload has the same
 * bounding set, no_new_privs, and cannot write kernel tunables — the test writes the
 * host's current vm.swappiness back, so the host's value is never changed either way.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALL_CAPABILITIES } from '../../../agent/core/containers/capabilities.js';
import { makeWorld, waitForFile, waitInactive, type World } from './world.js';

let w: World;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  w = await makeWorld(suite);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

/** podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
 *  NET_BIND_SERVICE SYS_CHROOT SETFCAP (bits 0 1 3 4 5 6 7 8 10 18 31). */
const PODMAN_MASK = '00000000800405fb';

/** The capability names of a /proc/PID/status mask, for readable failures. */
function names(mask: string): string[] {
  const bits = BigInt(`0x${mask}`);
  return ALL_CAPABILITIES.filter((_, i) => (bits >> BigInt(i)) & 1n);
}

/** `Field: value` lines of /proc/self/status as the payload wrote them. */
function statusFields(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes(':')).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

async function volume(name: string): Promise<string> {
  const dir = join(w.scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Runs `script` in a container with a /data volume; returns the volume once `done` exists. */
async function runScript(name: string, script: string, fields: Parameters<World['spec']>[1] = {}): Promise<string> {
  const data = await volume(name);
  const unit = await w.run(w.spec(name, { exec: ['/bin/sh', '-c', `${script}; echo done > /data/done`], volumes: [{ host: data, path: '/data', readOnly: false }], ...fields }));
  await waitForFile(join(data, 'done'));
  await waitInactive(w.systemd, unit);
  return data;
}

function withIsolators(isolators: Array<{ name: string; value: unknown }>): Parameters<World['spec']>[1] {
  return { image: { ...w.image.record, run: { ...w.image.record.run!, isolators } } };
}

test('an nspawn payload has exactly podman\'s default capabilities', async () => {
  // With a network namespace nspawn made itself (network none: --private-network), the whole set.
  const veth = await runScript('caps-veth', 'cat /proc/self/status > /data/status', { network: { mode: 'none' } });
  const v = statusFields(await readFile(join(veth, 'status'), 'utf8'));
  assert.deepEqual(names(v.CapEff!), names(PODMAN_MASK), 'effective set');
  assert.equal(v.CapBnd, PODMAN_MASK, `bounding set: ${names(v.CapBnd!).join(' ')}`);
  assert.equal(v.CapAmb, '0000000000000000');
  assert.equal(v.NoNewPrivs, '0', 'setuid programs of the image work, as under podman');

  // On the host's network, in a user namespace, nspawn also drops CAP_NET_BIND_SERVICE:
  // the network namespace belongs to the host's user namespace, so it would not apply.
  const host = await runScript('caps', 'cat /proc/self/status > /data/status');
  const h = statusFields(await readFile(join(host, 'status'), 'utf8'));
  assert.deepEqual(names(h.CapBnd!), names(PODMAN_MASK).filter((c) => c !== 'CAP_NET_BIND_SERVICE'));
  assert.equal(h.CapEff, h.CapBnd);
});

test('an image\'s capabilities isolators set the nspawn payload\'s capabilities', async () => {
  const retain = await runScript('caps-retain', 'cat /proc/self/status > /data/status', withIsolators([
    { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN', 'CAP_KILL'] } },
  ]));
  const r = statusFields(await readFile(join(retain, 'status'), 'utf8'));
  assert.deepEqual(names(r.CapBnd!), ['CAP_KILL', 'CAP_NET_ADMIN']); // NET_BIND_SERVICE: see above
  assert.equal(r.CapEff, r.CapBnd);

  const remove = await runScript('caps-remove', 'cat /proc/self/status > /data/status', withIsolators([
    { name: 'os/linux/capabilities-remove-set', value: { set: ['CAP_SETFCAP', 'CAP_SYS_CHROOT', 'CAP_SYS_ADMIN'] } },
  ]));
  const m = statusFields(await readFile(join(remove, 'status'), 'utf8'));
  assert.deepEqual(names(m.CapBnd!), names(PODMAN_MASK).filter((c) => !['CAP_SETFCAP', 'CAP_SYS_CHROOT', 'CAP_NET_BIND_SERVICE'].includes(c)));
});

test('a fly payload cannot write kernel tunables, has no_new_privs and podman\'s bounding set', async () => {
  const swappiness = '/proc/sys/vm/swappiness';
  const hostBefore = await readFile(swappiness, 'utf8');
  // The current value written back: whatever happens, the host's setting stays the same.
  const data = await runScript('fly-privs', [
    'cat /proc/self/status > /data/status',
    `v=$(cat ${swappiness}); echo "$v" > /data/swappiness`,
    `(echo "$v" > ${swappiness}) 2> /data/write-error; echo $? > /data/write-status`,
    '(echo 1 > /sys/fs/cgroup/x) 2> /data/cgroup-error; echo $? > /data/cgroup-status',
  ].join('; '), { isolation: 'fly', privateUsers: 'no' });
  assert.equal(await readFile(swappiness, 'utf8'), hostBefore, 'the host value is unchanged');
  assert.equal(await readFile(join(data, 'swappiness'), 'utf8'), hostBefore, 'the payload can read it');
  assert.notEqual((await readFile(join(data, 'write-status'), 'utf8')).trim(), '0', 'the write failed');
  assert.match(await readFile(join(data, 'write-error'), 'utf8'), /Read-only file system/);
  assert.notEqual((await readFile(join(data, 'cgroup-status'), 'utf8')).trim(), '0', 'the cgroup tree is read-only');
  const s = statusFields(await readFile(join(data, 'status'), 'utf8'));
  assert.equal(s.NoNewPrivs, '1');
  assert.equal(s.CapBnd, PODMAN_MASK, `bounding set: ${names(s.CapBnd!).join(' ')}`);
  assert.equal(s.CapEff, PODMAN_MASK, 'root in a fly container has the bounding set, not 41 capabilities');
  assert.equal(s.Seccomp, '2', 'a seccomp filter is installed (architectures, namespaces, realtime, personality)');
});
