/**
 * Containers of isolation nspawn on a real (sandboxed) systemd manager with a real busybox
 * image: the rendered unit runs the payload with systemd as its parent; the payload answers
 * on a port and writes to its volume; hostile config values arrive byte for byte; and from
 * inside: pid 1 is nspawn's stub init, uid 0 is not uid 0 outside, host paths outside
 * volumes are invisible, the memory limit kills a payload that allocates past it, and the
 * shared image tree is unchanged after the container wrote to /.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { makeWorld, treeSnapshot, waitForFile, waitInactive, type World } from './world.js';
import { freePort } from '../../lib/etcd.js';

let w: World;
const cleanups: Array<() => unknown> = [];
const suite = { after: (fn: () => unknown) => cleanups.push(fn) };

before(async () => {
  w = await makeWorld(suite);
});

after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function volume(name: string): Promise<string> {
  const dir = join(w.scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The PIDs below `pid`, depth first. */
async function descendants(pid: number): Promise<number[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  const all: number[] = [];
  for (const c of children) all.push(c, ...(await descendants(c)));
  return all;
}

async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function hostUid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

test('a container runs under systemd, answers on a port, and is isolated', async () => {
  const data = await volume('web');
  const hostSecret = join(w.scratch, 'host-only-marker');
  await writeFile(hostSecret, 'secret\n');
  const port = await freePort();
  const script = [
    'cat /proc/1/comm > /data/pid1',
    'echo $$ > /data/pid',
    'id -u > /data/uid',
    'cat /proc/self/uid_map > /data/uidmap',
    `test -e ${hostSecret} && echo visible > /data/leak || echo hidden > /data/leak`,
    'hostname > /data/hostname',
    `exec httpd -f -p 127.0.0.1:${port} -h /www`,
  ].join('; ');
  const unit = await w.run(w.spec('web', { exec: ['/bin/sh', '-c', script], volumes: [{ host: data, path: '/data', readOnly: false }] }));

  assert.equal((await waitForFile(join(data, 'leak'))).trim(), 'hidden', 'a host path outside the volumes is not visible');
  const body = await fetchWithRetry(`http://127.0.0.1:${port}/index.html`);
  assert.equal(body, 'hello from the image\n');

  assert.equal((await readFile(join(data, 'pid1'), 'utf8')).trim(), '(sd-stubinit)', 'pid 1 of the payload namespace is nspawn\'s stub init');
  assert.equal((await readFile(join(data, 'pid'), 'utf8')).trim(), '2', 'the payload is pid 2 (--as-pid2)');
  assert.equal((await readFile(join(data, 'hostname'), 'utf8')).trim(), 'web');
  assert.equal((await readFile(join(data, 'uid'), 'utf8')).trim(), '0', 'the payload is root inside');
  const [inside, outside] = (await readFile(join(data, 'uidmap'), 'utf8')).trim().split(/\s+/).map(Number);
  assert.equal(inside, 0);
  assert.ok(outside! > 0, `uid 0 inside maps to ${outside} outside`);

  const status = await w.systemd.unitStatus(unit);
  assert.equal(status.activeState, 'active');
  const httpd = (await descendants(status.mainPid)).at(-1)!;
  assert.equal(await hostUid(httpd), outside, 'seen from the host, the payload runs as the mapped uid, not 0');
  assert.match(await readFile(`/proc/${httpd}/cgroup`, 'utf8'), /machine\.slice\/container-web\.service/, 'the payload is in the unit\'s cgroup');
  const sandboxManager = Number(await readFile(join(w.sbx.dir, 'systemd.pid'), 'utf8'));
  assert.equal(await parentOf(status.mainPid), sandboxManager, 'systemd is the parent of the container');
  assert.ok(!(await descendants(process.pid)).includes(httpd), 'the payload is not a child of the test');

  await w.systemd.stop(unit);
});

async function fetchWithRetry(url: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(url);
      return await res.text();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test('hostile values in exec and environment arrive byte for byte', async () => {
  const data = await volume('hostile');
  const hostile = [
    '--private-users=no', ';', 'a;b', '$HOME', '${PATH}', '$$', '%n', '%%', 'quote"d', "single'd", 'back\\slash', 'tab\there',
    '" --bind=/:/host "', 'end\\', '-', '', ' spaced  out ',
  ];
  const env = { EVIL: 'x" --setenv=Y=1 "', DOLLAR: '$USER %h ${X}', NEWLINE: 'line1\nline2', SEMI: ';' };
  const script = 'for a in "$@"; do printf "%s\\0" "$a"; done > /data/args; printf "%s\\0" "$EVIL" "$DOLLAR" "$NEWLINE" "$SEMI" "$FROM_IMAGE" "$GREETING" > /data/env; echo done > /data/done';
  const unit = await w.run(w.spec('hostile', {
    exec: ['/bin/sh', '-c', script, 'argv0', ...hostile],
    environment: { ...env, GREETING: 'from config' },
    volumes: [{ host: data, path: '/data', readOnly: false }],
  }));
  await waitForFile(join(data, 'done'));
  assert.deepEqual((await readFile(join(data, 'args'), 'utf8')).split('\0').slice(0, -1), hostile);
  assert.deepEqual((await readFile(join(data, 'env'), 'utf8')).split('\0').slice(0, -1),
    [env.EVIL, env.DOLLAR, env.NEWLINE, env.SEMI, 'image', 'from config'], 'image environment < config, values intact');
  await waitInactive(w.systemd, unit);
});

test('writes to / go to the container\'s own layer; the shared image tree never changes', async () => {
  const before = await treeSnapshot(w.image.rootfs);
  const data = await volume('writer');
  const script = 'echo changed > /etc/passwd; echo new > /etc/written; rm /bin/ls; mkdir -p /var/lib/app; echo state > /var/lib/app/file; echo done > /data/done';
  const unit = await w.run(w.spec('writer', { exec: ['/bin/sh', '-c', script], volumes: [{ host: data, path: '/data', readOnly: false }] }));
  await waitForFile(join(data, 'done'));
  assert.equal(await waitInactive(w.systemd, unit), 'inactive');
  assert.deepEqual(await treeSnapshot(w.image.rootfs), before, 'no file of the image tree changed');
  const upper = w.units.paths('writer').upper;
  assert.equal(await readFile(join(upper, 'etc/written'), 'utf8'), 'new\n');
  assert.equal(await readFile(join(upper, 'var/lib/app/file'), 'utf8'), 'state\n');

  // The layer survives a restart: the container sees its own earlier writes.
  await rmDone(data);
  const again = await w.run(w.spec('writer', {
    exec: ['/bin/sh', '-c', 'cat /etc/written /var/lib/app/file > /data/seen; test -e /bin/ls && echo ls > /data/seen2 || echo gone > /data/seen2; echo done > /data/done'],
    volumes: [{ host: data, path: '/data', readOnly: false }],
  }));
  await waitForFile(join(data, 'done'));
  assert.equal(await readFile(join(data, 'seen'), 'utf8'), 'new\nstate\n');
  assert.equal((await readFile(join(data, 'seen2'), 'utf8')).trim(), 'gone');
  await waitInactive(w.systemd, again);
  assert.deepEqual(await treeSnapshot(w.image.rootfs), before);
});

async function rmDone(dir: string): Promise<void> {
  await writeFile(join(dir, 'done'), '');
}

test('the memory limit kills a payload that allocates past it', async () => {
  const alloc = 'echo started > /data/started; x=$(head -c 120000000 /dev/zero | tr "\\0" a); echo "survived ${#x}" > /data/result';
  const limitedData = await volume('hog');
  const freeData = await volume('free');
  const limited = await w.run(w.spec('hog', { exec: ['/bin/sh', '-c', alloc], memoryBytes: 64 * 2 ** 20, volumes: [{ host: limitedData, path: '/data', readOnly: false }] }));
  const free = await w.run(w.spec('free', { exec: ['/bin/sh', '-c', alloc], volumes: [{ host: freeData, path: '/data', readOnly: false }] }));
  await Promise.all([waitInactive(w.systemd, limited), waitInactive(w.systemd, free)]);
  assert.equal((await readFile(join(freeData, 'result'), 'utf8')).trim(), 'survived 120000000', 'without a limit the payload completes');
  assert.equal((await readFile(join(limitedData, 'started'), 'utf8')).trim(), 'started');
  await assert.rejects(access(join(limitedData, 'result')), 'with 64M the payload was killed before it could finish');
  const status = await w.systemd.unitStatus(limited);
  assert.equal(status.activeState, 'failed');
});

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

test('the cpu quota holds a busy payload to its share', async () => {
  const unit = await w.run(w.spec('spin', { exec: ['/bin/sh', '-c', 'while :; do :; done'], cpuPercent: 10 }));
  const { mainPid } = await w.systemd.unitStatus(unit);
  let spinner: number | undefined;
  while (spinner === undefined) {
    for (const pid of await descendants(mainPid)) {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'sh') spinner = pid;
    }
  }
  const start = await cpuTicks(spinner);
  const began = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const used = (await cpuTicks(spinner)) - start;
  const share = used / ((Date.now() - began) / 10); // clock ticks are 10 ms
  await w.systemd.stop(unit);
  assert.ok(share > 0.03, `the payload ran (${(share * 100).toFixed(0)}% of a CPU)`);
  assert.ok(share < 0.25, `the payload used ${(share * 100).toFixed(0)}% of a CPU with a 10% quota`);
});

test('stopping the unit sends SIGTERM to the payload, which can end cleanly', async () => {
  const data = await volume('graceful');
  const unit = await w.run(w.spec('graceful', {
    exec: ['/bin/sh', '-c', 'trap "echo term > /data/term; exit 0" TERM; echo up > /data/up; while :; do sleep 0.1; done'],
    volumes: [{ host: data, path: '/data', readOnly: false }],
  }));
  await waitForFile(join(data, 'up'));
  await w.systemd.stop(unit);
  assert.equal((await readFile(join(data, 'term'), 'utf8')).trim(), 'term');
  const status = await w.systemd.unitStatus(unit);
  assert.equal(status.activeState, 'inactive');
  assert.equal(status.execMainStatus, 0);
});
