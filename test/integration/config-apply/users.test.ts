/**
 * users[] applied with the real shadow-utils (useradd --prefix, chpasswd --root) to a temp
 * root holding copies of the host's /etc/passwd, group, shadow, gshadow and login.defs:
 * users created with their creation-time fields, keys and owned files written after
 * them, a second apply plans nothing, an existing user only gets a changed hash, a user
 * removed from the config stays, and a failing useradd does not stop the other steps.
 * The results are read from the files under the root (never getent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { validateText } from '../../../agent/core/config/validate.js';
import type { HostConfig } from '../../../agent/core/config/types.js';
import { planHostConfig, type Plan } from '../../../agent/core/plan/config-plan.js';
import { executeSteps, type StepResult } from '../../../agent/host/apply/execute.js';
import { observeHost, type HostContext } from '../../../agent/host/apply/observe.js';
import { fileHostname } from '../../../agent/host/hostname.js';
import type { SystemdManager } from '../../../agent/host/systemd/manager.js';
import { UnitFileStore } from '../../../agent/host/systemd/unit-files.js';
import { tmpdir } from '../../lib/tmpdir.js';
import { fill, smallFs } from '../../lib/small-fs.js';
import { isAgentError } from '../../../agent/core/errors.js';

const HASH = '$6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm';
const HASH2 = '$6$xyz$0123456789abcdefABCDEF./';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIElroy elroy@example';
const CORE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICore admin@example';

const USERS = (hash: string, gecos: string): string => `#cloud-config
ssh_authorized_keys:
  - ${CORE_KEY}
users:
  - name: core
  - name: elroy
    passwd: "${hash}"
    gecos: ${gecos}
    groups: [users]
    shell: /bin/bash
    ssh_authorized_keys:
      - ${KEY}
  - name: svc
    system: true
    no_create_home: true
    homedir: /var/lib/svc
    primary_group: daemon
    no_user_group: true
    no_log_init: true
write_files:
  - path: /home/elroy/notes
    owner: elroy
    permissions: "0600"
    content: hi
`;

function config(yaml: string): HostConfig {
  const r = validateText(yaml, { gunzip: (b) => gunzipSync(b) });
  assert.ok(r.config, JSON.stringify(r.entries));
  return r.config;
}

/** A host root with copies of the account files; no units, so systemd is never asked. */
async function hostRoot(t: { after(fn: () => unknown): void }, root?: string): Promise<HostContext> {
  root ??= await tmpdir(t, 'host-agent-users-');
  await mkdir(join(root, 'etc'));
  await mkdir(join(root, 'home'));
  for (const f of ['passwd', 'group', 'shadow', 'gshadow', 'login.defs']) await copyFile(join('/etc', f), join(root, 'etc', f));
  const systemd = new Proxy({}, { get: (_, key) => { throw new Error(`systemd.${String(key)} must not be used`); } }) as SystemdManager;
  return {
    systemd,
    unitFiles: new UnitFileStore({ persistent: join(root, 'etc/systemd/system'), runtime: join(root, 'run/systemd/system') }),
    hostname: fileHostname(root),
    root,
    sshUser: 'core',
  };
}

async function plan(ctx: HostContext, desired: HostConfig, previous?: HostConfig): Promise<Plan> {
  return planHostConfig(desired, previous, await observeHost(desired, previous, ctx));
}

async function apply(ctx: HostContext, desired: HostConfig, previous?: HostConfig): Promise<{ plan: Plan; results: StepResult[] }> {
  const p = await plan(ctx, desired, previous);
  return { plan: p, results: await executeSteps(p.steps, ctx) };
}

/** The fields of `name`'s line in a colon file under the root. */
async function entry(ctx: HostContext, file: string, name: string): Promise<string[] | undefined> {
  const text = await readFile(join(ctx.root, 'etc', file), 'utf8');
  return text.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
}

test('users are created with their fields, then their keys and files; a second apply plans nothing', async (t) => {
  const ctx = await hostRoot(t);
  const desired = config(USERS(HASH, 'Elroy Jetson'));
  const { plan: first, results } = await apply(ctx, desired);
  assert.deepEqual(first.problems, []);
  assert.deepEqual(results, [
    { step: 'create user core (no password (SSH keys only))' },
    { step: 'create user elroy (comment "Elroy Jetson", groups users, shell /bin/bash, password from cloud-config)' },
    { step: 'create user svc (system account, home /var/lib/svc, no home directory created, primary group daemon, no user group, no password (SSH keys only))' },
    { step: 'write /home/elroy/notes (2 bytes, mode 0600, owner elroy)' },
    { step: 'write 1 SSH authorized key(s) for core' },
    { step: 'write 1 SSH authorized key(s) for elroy' },
  ]);

  const elroy = (await entry(ctx, 'passwd', 'elroy'))!;
  assert.deepEqual(elroy.slice(4), ['Elroy Jetson', '/home/elroy', '/bin/bash']);
  const [uid, gid] = [Number(elroy[2]), Number(elroy[3])];
  assert.ok(uid >= 1000, `a regular uid, got ${uid}`);
  assert.equal((await entry(ctx, 'group', 'elroy'))?.[2], String(gid), 'a user group of its own');
  assert.ok((await entry(ctx, 'group', 'users'))![3]!.split(',').includes('elroy'));
  assert.equal((await entry(ctx, 'shadow', 'elroy'))?.[1], HASH);
  assert.equal((await entry(ctx, 'shadow', 'core'))?.[1], '*', 'no password login, SSH keys work');

  const svc = (await entry(ctx, 'passwd', 'svc'))!;
  assert.ok(Number(svc[2]) < 1000, `a system uid, got ${svc[2]}`);
  assert.equal(svc[3], (await entry(ctx, 'group', 'daemon'))![2]);
  assert.equal(svc[5], '/var/lib/svc');
  await assert.rejects(stat(join(ctx.root, 'var/lib/svc')), { code: 'ENOENT' });
  assert.equal(await entry(ctx, 'group', 'svc'), undefined);

  const keys = join(ctx.root, 'home/elroy/.ssh/authorized_keys');
  assert.match(await readFile(keys, 'utf8'), new RegExp(`^# BEGIN host-agent[^\\n]*\\n${KEY}\\n# END host-agent\\n$`));
  const keyStat = await stat(keys);
  assert.deepEqual([keyStat.uid, keyStat.gid, keyStat.mode & 0o777], [uid, gid, 0o600]);
  assert.match(await readFile(join(ctx.root, 'home/core/.ssh/authorized_keys'), 'utf8'), new RegExp(CORE_KEY));
  const notes = await stat(join(ctx.root, 'home/elroy/notes'));
  assert.deepEqual([notes.uid, notes.gid, notes.mode & 0o777], [uid, gid, 0o600]);

  assert.equal(await entry({ ...ctx, root: '/' }, 'passwd', 'elroy'), undefined, 'the host\'s own files are untouched');

  const again = await plan(ctx, desired, desired);
  assert.deepEqual(again.steps, []);
  assert.deepEqual(again.problems, []);
});

test('an existing user keeps its creation-time fields; a new hash is set; removed users stay', async (t) => {
  const ctx = await hostRoot(t);
  const v1 = config(USERS(HASH, 'Elroy Jetson'));
  await apply(ctx, v1);

  const v2 = config(USERS(HASH2, 'Someone Else'));
  const { plan: p, results } = await apply(ctx, v2, v1);
  assert.deepEqual(results, [{ step: 'set the password of elroy (hash from cloud-config)' }]);
  assert.ok(p.notes.includes('user elroy exists: its creation-time fields (gecos, groups, shell) are left as they are'));
  assert.equal((await entry(ctx, 'shadow', 'elroy'))?.[1], HASH2);
  assert.equal((await entry(ctx, 'passwd', 'elroy'))?.[4], 'Elroy Jetson');
  assert.deepEqual((await plan(ctx, v2, v2)).steps, []);

  const v3 = config(`#cloud-config\nssh_authorized_keys:\n  - ${CORE_KEY}\n`);
  const removed = await apply(ctx, v3, v2);
  assert.deepEqual(removed.results, [{ step: "remove the agent's SSH authorized keys of elroy" }]);
  assert.ok(await entry(ctx, 'passwd', 'elroy'), 'never deleted');
  assert.equal(await readFile(join(ctx.root, 'home/elroy/.ssh/authorized_keys'), 'utf8'), '');
  assert.deepEqual((await plan(ctx, v3, v3)).steps, []);
});

test('a useradd that fails is reported with its reason; the other steps still run', async (t) => {
  const ctx = await hostRoot(t);
  const desired = config('#cloud-config\nusers:\n  - name: bad\n    groups: [no-such-group]\n  - name: good\n');
  const { results } = await apply(ctx, desired);
  assert.equal(results.length, 2);
  assert.match(results[0]!.error!, /^users\[bad\]: useradd failed: .*no-such-group.* does not exist\. Fix the user entry/);
  assert.deepEqual(results[1], { step: 'create user good (no password (SSH keys only))' });
  assert.equal(await entry(ctx, 'passwd', 'bad'), undefined);
  assert.ok(await entry(ctx, 'passwd', 'good'));
});

test('on a full disk the SSH keys and files of existing users are all or nothing', async (t) => {
  const ctx = await hostRoot(t, await smallFs(t, '8m'));
  const desired = config(USERS(HASH, 'Elroy Jetson'));
  await apply(ctx, desired);
  const keys = join(ctx.root, 'home/elroy/.ssh/authorized_keys');
  const coreKeys = join(ctx.root, 'home/core/.ssh/authorized_keys');
  const before = [await readFile(keys, 'utf8'), await readFile(coreKeys, 'utf8'), await readFile(join(ctx.root, 'home/elroy/notes'), 'utf8')];
  await fill(ctx.root);
  const changed = config(USERS(HASH, 'Elroy Jetson').replace(KEY, `${KEY}\n      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINew new@example`)
    .replace(CORE_KEY, `${CORE_KEY}\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICore2 admin2@example`).replace('content: hi', `content: "${'x'.repeat(64 * 1024)}"`));
  const p = await plan(ctx, changed, desired);
  assert.deepEqual(p.steps.map((x) => x.kind).sort(), ['write-file', 'write-ssh-keys', 'write-ssh-keys']);
  await assert.rejects(executeSteps(p.steps, ctx), (e) => isAgentError(e, 'disk.full'));
  assert.deepEqual([await readFile(keys, 'utf8'), await readFile(coreKeys, 'utf8'), await readFile(join(ctx.root, 'home/elroy/notes'), 'utf8')], before, 'nothing changed');
  for (const dir of ['home/elroy/.ssh', 'home/core/.ssh', 'home/elroy']) {
    assert.deepEqual((await readdir(join(ctx.root, dir))).filter((n) => n.startsWith('.tmp-')), [], dir);
  }
});
