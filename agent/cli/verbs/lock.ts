/**
 * agentctl lock SUBVERB: the etcd reboot semaphore, straight from etcd (like locksmithctl),
 * so it works with no agent running:
 *   lock status [--json]    free slots, max and holders
 *   lock set-max N          number of hosts that may reboot at once
 *   lock unlock [ID]        free the slot of ID (default: this host's machine id)
 * Connection options as locksmithctl's (flags, or LOCKSMITHCTL_* environment variables):
 * --endpoint (comma-separated etcd URLs), --group, --etcd-cafile, --etcd-certfile,
 * --etcd-keyfile, --etcd-username, --etcd-password. Changes need etcd credentials that may
 * write the lock keys — on a host, root's (they sit in the root-only cloud-config).
 */
import { AgentError } from '../../core/errors.js';
import type { Semaphore } from '../../core/schedule/semaphore.js';
import type { EtcdLockSettings } from '../../host/lock/open.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from '../verb.js';

/** The document `lock status --json` prints. */
export interface LockStatusJson {
  key: string;
  available: number;
  max: number;
  holders: string[];
}

/** Flag name → LOCKSMITHCTL_ variable, as locksmithctl read its flags from the environment. */
const CONNECTION = {
  endpoint: 'LOCKSMITHCTL_ENDPOINT',
  group: 'LOCKSMITHCTL_GROUP',
  'etcd-cafile': 'LOCKSMITHCTL_ETCD_CAFILE',
  'etcd-certfile': 'LOCKSMITHCTL_ETCD_CERTFILE',
  'etcd-keyfile': 'LOCKSMITHCTL_ETCD_KEYFILE',
  'etcd-username': 'LOCKSMITHCTL_ETCD_USERNAME',
  'etcd-password': 'LOCKSMITHCTL_ETCD_PASSWORD',
} as const;

function usage(message: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint: 'See agentctl lock --help' });
}

/** Lock settings from the flags, then the environment; `id` is only used by unlock. */
export function lockSettings(values: VerbArgs['values'], env: NodeJS.ProcessEnv, id: string): EtcdLockSettings {
  const get = (flag: keyof typeof CONNECTION): string | undefined => {
    const v = values[flag] ?? env[CONNECTION[flag]];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const [endpoint, group, caFile, certFile, keyFile, username, password] = (
    ['endpoint', 'group', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile', 'etcd-username', 'etcd-password'] as const
  ).map(get);
  const tls = { ...(caFile && { caFile }), ...(certFile && { certFile }), ...(keyFile && { keyFile }) };
  return {
    id,
    ...(endpoint && { endpoint }),
    ...(group && { group }),
    ...(Object.keys(tls).length > 0 && { tls }),
    ...(username && { username }),
    ...(password !== undefined && { password }),
    retry: { attempts: 2 },
    timeoutMs: 5000,
  };
}

export function renderLockStatus(s: LockStatusJson): string {
  const lines = [`Available: ${s.available}`, `Max: ${s.max}`];
  if (s.holders.length > 0) lines.push('', 'MACHINE ID', ...s.holders);
  return lines.join('\n') + '\n';
}

async function open(values: VerbArgs['values'], env: NodeJS.ProcessEnv, id = 'agentctl') {
  const { openEtcdLock } = await import('../../host/lock/open.js');
  return openEtcdLock(lockSettings(values, env, id));
}

const asJson = (key: string, s: Semaphore): LockStatusJson => ({ key, available: s.semaphore, max: s.max, holders: s.holders });

async function status(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  if (positionals.length > 1) throw usage('lock status takes no argument');
  const lock = await open(values, ctx.env);
  const { semaphore } = await lock.read();
  const doc = asJson(lock.key, semaphore);
  ctx.stdout.write(values.json ? JSON.stringify(doc, null, 2) + '\n' : renderLockStatus(doc));
  return EXIT.ok;
}

async function setMax(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  const text = positionals[1];
  if (positionals.length !== 2 || !/^\d+$/.test(text!)) throw usage('lock set-max needs one whole number, e.g. agentctl lock set-max 2');
  const lock = await open(values, ctx.env);
  const after = await lock.setMax(Number(text));
  if (values.json) ctx.stdout.write(JSON.stringify(asJson(lock.key, after), null, 2) + '\n');
  else ctx.stdout.write(`Max: ${after.max} (available: ${after.semaphore})\n`);
  return EXIT.ok;
}

async function unlock(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  if (positionals.length > 2) throw usage('lock unlock takes at most one machine id');
  let id = positionals[1];
  if (id === undefined) {
    const { readMachineId } = await import('../../host/lock/machine-id.js');
    id = await readMachineId(ctx.env.HOST_AGENT_MACHINE_ID_FILE || undefined);
  }
  const lock = await open(values, ctx.env, id);
  const freed = await lock.unlock(id);
  ctx.stdout.write(freed ? `Unlocked ${id}.\n` : `${id} holds no slot; nothing changed.\n`);
  return EXIT.ok;
}

const SUBVERBS: Record<string, (ctx: CliContext, args: VerbArgs) => Promise<number>> = {
  status, 'set-max': setMax, unlock,
};

export const lockVerb: Verb = {
  name: 'lock',
  synopsis: 'status [--json] | set-max N | unlock [ID]  [--endpoint URL[,URL…]] [--group G]',
  help: `  status              free slots, max and the machine ids holding one
  set-max N           let N hosts reboot at once; holders keep their slots
  unlock [ID]         free the slot of machine ID (default: this host's /etc/machine-id,
                      or the file named by HOST_AGENT_MACHINE_ID_FILE)
  --endpoint URLS     etcd client URLs, comma-separated (default http://127.0.0.1:2379)
  --group G           the semaphore of group G (coreos.locksmith.group)
  --etcd-cafile F, --etcd-certfile F, --etcd-keyfile F    TLS (PEM files)
  --etcd-username U, --etcd-password P                    etcd v3 auth
  --json              (status, set-max) print {key, available, max, holders}
  Each option may also come from LOCKSMITHCTL_ENDPOINT, LOCKSMITHCTL_GROUP,
  LOCKSMITHCTL_ETCD_CAFILE… as for locksmithctl. set-max and unlock change the lock:
  they need etcd credentials allowed to write it.
`,
  options: {
    json: { type: 'boolean' },
    endpoint: { type: 'string' },
    group: { type: 'string' },
    'etcd-cafile': { type: 'string' },
    'etcd-certfile': { type: 'string' },
    'etcd-keyfile': { type: 'string' },
    'etcd-username': { type: 'string' },
    'etcd-password': { type: 'string' },
  },
  positionals: { min: 1, max: 2 },
  subverbs: Object.keys(SUBVERBS),
  async run(ctx, args) {
    const name = args.positionals[0]!;
    const sub = SUBVERBS[name];
    if (!sub) throw usage(`unknown subverb "${name}" (status, set-max, unlock)`);
    return sub(ctx, args);
  },
};
