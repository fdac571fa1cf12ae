/**
 * agentctl trust: which keys may sign images, per name prefix. Works on the key
 * directories directly (agentd reads them at every fetch):
 *   trust --prefix P [KEYFILE|URL]   trust a key for names starting with P; with no key,
 *                                    discover it (ac-discovery-pubkeys), show its
 *                                    fingerprint and ask (on a terminal) or need --yes
 *   trust --root KEYFILE|URL         trust a key for every image
 *   trust list [--json]              trusted keys
 *   trust rm FINGERPRINT             stop trusting a key (masks a system key)
 *   trust set --type T [--pubkeysfile KEY]… SCOPE
 *                                    an OCI policy rule (policy.json), as podman image trust set
 *   trust show [--json]              the OCI policy rules beside the appc keys
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { AgentError, isAgentError } from '../../core/errors.js';
import { renderTable } from '../render/table.js';
import { EXIT, type CliContext, type Verb, type VerbArgs } from '../verb.js';
import { parseInsecureOptions } from './fetch.js';
import { discoveryPort, keystorePaths, STORE_OPTIONS } from './image-backend.js';

/** How trust asks a person to confirm a discovered key. */
export interface Confirm {
  /** True when a person can answer (stdin and stderr are terminals). */
  interactive(): boolean;
  /** Asks a yes/no question; resolves true for yes. */
  ask(question: string): Promise<boolean>;
}

const terminalConfirm: Confirm = {
  interactive: () => Boolean(process.stdin.isTTY && process.stderr.isTTY),
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
};

export interface TrustedKeyJson {
  fingerprint: string;
  /** null for a root key. */
  prefix: string | null;
  source: 'admin' | 'system';
  path: string;
  userIds: string[];
}

function usage(message: string, hint: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint });
}

async function keystore(ctx: CliContext, values: VerbArgs['values']) {
  const { Keystore } = await import('../../host/trust/keystore.js');
  return new Keystore(keystorePaths(ctx, values));
}

async function appcKeys(ctx: CliContext, values: VerbArgs['values']): Promise<TrustedKeyJson[]> {
  const { parsePublicKey } = await import('../../host/trust/keys.js');
  const keys: TrustedKeyJson[] = [];
  for (const k of await (await keystore(ctx, values)).list()) {
    const userIds = (await parsePublicKey(k.armored, k.path).catch(() => undefined))?.userIds ?? [];
    keys.push({ fingerprint: k.fingerprint, prefix: k.prefix ?? null, source: k.source, path: k.path, userIds });
  }
  return keys;
}

function renderKeys(ctx: CliContext, keys: TrustedKeyJson[]): void {
  if (keys.length === 0) {
    ctx.stdout.write('No trusted keys. Trust one with: agentctl trust --prefix PREFIX KEYFILE\n');
    return;
  }
  ctx.stdout.write(renderTable(keys, [
    { header: 'FINGERPRINT', value: (k) => k.fingerprint },
    { header: 'PREFIX', value: (k) => k.prefix ?? '(root: every image)' },
    { header: 'SOURCE', value: (k) => k.source },
    { header: 'USER IDS', value: (k) => k.userIds.join(', ') },
  ]));
}

async function list(ctx: CliContext, values: VerbArgs['values']): Promise<number> {
  const keys = await appcKeys(ctx, values);
  if (values.json) ctx.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
  else renderKeys(ctx, keys);
  return EXIT.ok;
}

/** The OCI policy file: --policy, else HOST_AGENT_POLICY, else /etc/host-agent/policy.json. */
function policyFile(ctx: CliContext, values: VerbArgs['values']): string {
  return typeof values.policy === 'string' ? values.policy : ctx.env.HOST_AGENT_POLICY || '/etc/host-agent/policy.json';
}

const TRUST_TYPES = ['signedBy', 'reject', 'accept'] as const;

async function setPolicy(ctx: CliContext, values: VerbArgs['values'], scope: string | undefined): Promise<number> {
  const type = values.type;
  if (typeof type !== 'string' || !(TRUST_TYPES as readonly string[]).includes(type)) {
    throw usage('trust set needs --type signedBy, reject or accept', 'Usage: agentctl trust set --type signedBy|reject|accept [--pubkeysfile KEYFILE]… SCOPE');
  }
  if (scope === undefined) throw usage('trust set needs a scope', 'Give default, a registry (quay.io), a namespace (quay.io/org) or a repository (quay.io/org/app)');
  const keyFiles = (values.pubkeysfile as string[] | undefined) ?? [];
  const file = policyFile(ctx, values);
  const { setPolicyTrust } = await import('../../host/oci/policy-file.js');
  const { showFingerprint } = await import('../../host/trust/keys.js');
  const result = await setPolicyTrust(file, scope, type as (typeof TRUST_TYPES)[number], keyFiles);
  const keys = result.keys.flatMap((k) => k.fingerprints).map(showFingerprint);
  ctx.stdout.write(`${scope}: ${type}${keys.length > 0 ? ` by ${keys.join(', ')}` : ''}\n${file}\n`);
  return EXIT.ok;
}

async function show(ctx: CliContext, values: VerbArgs['values']): Promise<number> {
  const file = policyFile(ctx, values);
  const { readPolicyFile } = await import('../../host/oci/policy-file.js');
  const { policyRules, describeRequirement } = await import('../../core/oci/policy-edit.js');
  const policy = await readPolicyFile(file);
  const rules = policy === undefined ? undefined : policyRules(policy);
  const keys = await appcKeys(ctx, values);
  if (values.json) {
    ctx.stdout.write(`${JSON.stringify({ policy: { file, rules: rules ?? null }, appc: keys }, null, 2)}\n`);
    return EXIT.ok;
  }
  ctx.stdout.write(`OCI images (${file}):\n`);
  if (rules === undefined) {
    ctx.stdout.write('No policy file: every image from a registry is refused. Add a rule with: agentctl trust set --type signedBy --pubkeysfile KEYFILE SCOPE\n');
  } else {
    ctx.stdout.write(renderTable(rules, [
      { header: 'TRANSPORT', value: (r) => r.transport || '(all)' },
      { header: 'SCOPE', value: (r) => r.scope },
      { header: 'REQUIREMENTS', value: (r) => r.requirements.map(describeRequirement).join(' + ') },
    ]));
  }
  ctx.stdout.write('\nappc images (trusted keys):\n');
  renderKeys(ctx, keys);
  return EXIT.ok;
}

async function remove(ctx: CliContext, values: VerbArgs['values'], fingerprint: string): Promise<number> {
  for (const path of await (await keystore(ctx, values)).remove(fingerprint)) {
    ctx.stdout.write(`${path}\n`);
  }
  return EXIT.ok;
}

/** The armored key named by a file path or URL. */
async function readKeyArgument(arg: string, allowHttp: boolean): Promise<{ data: string; source: string }> {
  if (/^https?:\/\//.test(arg)) {
    const { fetchArmoredKey } = await import('../../host/trust/fetch-key.js');
    return { data: (await fetchArmoredKey(arg, { allowHttp })).armored, source: arg };
  }
  try {
    return { data: await readFile(arg, 'utf8'), source: arg };
  } catch (e) {
    throw new AgentError({
      code: 'trust.key-unreadable',
      message: `cannot read the key file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      subject: arg,
      hint: 'Give the path of an armored public key (gpg --armor --export FINGERPRINT > key.asc) or its https:// URL',
      cause: e,
    });
  }
}

async function add(ctx: CliContext, values: VerbArgs['values'], keyArg: string | undefined, confirm: Confirm): Promise<number> {
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined;
  const root = values.root === true;
  const { resolveScope } = await import('../../host/trust/keystore.js');
  try {
    resolveScope({ root, ...(prefix !== undefined && { prefix }) });
  } catch (e) {
    if (isAgentError(e, 'trust.scope-missing') || isAgentError(e, 'trust.scope-ambiguous')) throw usage(e.message, e.hint!);
    throw e;
  }
  const allowHttp = parseInsecureOptions(values['insecure-options'] as string | undefined).includes('http');
  const store = await keystore(ctx, values);
  const scope = root ? { root: true } : { prefix: prefix! };
  const scopeText = root ? 'every image (root key)' : `images whose name starts with ${prefix}`;
  const { showFingerprint } = await import('../../host/trust/keys.js');

  if (keyArg !== undefined) {
    const { data, source } = await readKeyArgument(keyArg, allowHttp);
    const added = await store.add(data, scope, source);
    ctx.stdout.write(`trusted key ${showFingerprint(added.fingerprint)} (${added.parsed.userIds.join(', ')}) for ${scopeText}\n${added.path}\n`);
    return EXIT.ok;
  }
  if (root) throw usage('--root needs a key file or URL', 'Usage: agentctl trust --root KEYFILE|URL');

  const { discoverKeys } = await import('../../host/trust/fetch-key.js');
  const port = discoveryPort(ctx);
  const found = await discoverKeys({ name: prefix!, labels: {} }, { allowHttp, ...(port !== undefined && { discoveryPort: port }) });
  for (const key of found) {
    ctx.stderr.write(`Key for ${prefix} from ${key.url}:\n  fingerprint: ${showFingerprint(key.fingerprint)}\n  user IDs:    ${key.userIds.join(', ')}\n`);
    if (values.yes !== true) {
      if (!confirm.interactive()) {
        throw new AgentError({
          code: 'trust.confirmation-needed',
          message: `not trusting the discovered key ${showFingerprint(key.fingerprint)} without confirmation`,
          subject: prefix!,
          hint: 'Check the fingerprint with the publisher, then run again with --yes',
        });
      }
      if (!(await confirm.ask(`Trust this key for ${scopeText}? [y/N] `))) {
        ctx.stderr.write('not trusted\n');
        continue;
      }
    }
    const added = await store.add(key.armored, scope, key.url);
    ctx.stdout.write(`trusted key ${showFingerprint(added.fingerprint)} for ${scopeText}\n${added.path}\n`);
  }
  return EXIT.ok;
}

export function makeTrustVerb(confirm: Confirm): Verb {
  return {
    name: 'trust',
    synopsis: '--prefix PREFIX [KEYFILE|URL] | --root KEYFILE|URL | list [--json] | rm FINGERPRINT | set --type TYPE [--pubkeysfile KEYFILE]… SCOPE | show [--json]',
    help: `  --prefix PREFIX          trust the key for images whose name starts with PREFIX; with no key,
                           discover it (ac-discovery-pubkeys) and show its fingerprint first
  --root                   trust the key for every image
  --yes                    trust a discovered key without asking (required without a terminal)
  --insecure-options=http  allow plain http for the key and discovery
  --json                   (list, show) print as JSON
  --type TYPE              (set) the OCI policy rule for SCOPE: signedBy (signatures by the --pubkeysfile
                           keys), reject, or accept (without verification); SCOPE is default, a registry,
                           a namespace, a repository[:tag] or *.domain, as in podman image trust set
  --pubkeysfile KEYFILE    (set) a signer's public key, copied next to the policy; may be repeated
  --policy FILE            (set, show) the OCI policy (default /etc/host-agent/policy.json; env HOST_AGENT_POLICY)
  --trust-dir DIR          admin trusted keys (default /etc/host-agent/trustedkeys; env HOST_AGENT_TRUST_DIR)
  --system-trust-dir DIR   system trusted keys (default /usr/lib/host-agent/trustedkeys; env HOST_AGENT_SYSTEM_TRUST_DIR)
`,
    options: {
      prefix: { type: 'string' },
      root: { type: 'boolean' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
      type: { type: 'string' },
      pubkeysfile: { type: 'string', multiple: true },
      policy: { type: 'string' },
      'insecure-options': { type: 'string' },
      'trust-dir': STORE_OPTIONS['trust-dir'],
      'system-trust-dir': STORE_OPTIONS['system-trust-dir'],
    },
    positionals: { min: 0, max: 2 },
    subverbs: ['list', 'rm', 'set', 'show'],
    async run(ctx, { values, positionals }) {
      const [first, second] = positionals;
      if (first === 'set') return setPolicy(ctx, values, second);
      if (first === 'show') {
        if (second !== undefined) throw usage('trust show takes no argument', 'Usage: agentctl trust show [--json]');
        return show(ctx, values);
      }
      if (values.type !== undefined || values.pubkeysfile !== undefined) throw usage('--type and --pubkeysfile go with trust set', 'Usage: agentctl trust set --type signedBy|reject|accept [--pubkeysfile KEYFILE]… SCOPE');
      if (first === 'list' || first === 'rm') {
        if (values.prefix !== undefined || values.root !== undefined) throw usage(`trust ${first} takes no --prefix or --root`, `Usage: agentctl trust ${first === 'list' ? 'list [--json]' : 'rm FINGERPRINT'}`);
        if (first === 'list') {
          if (second !== undefined) throw usage('trust list takes no argument', 'Usage: agentctl trust list [--json]');
          return list(ctx, values);
        }
        if (second === undefined) throw usage('trust rm needs a fingerprint', 'Usage: agentctl trust rm FINGERPRINT (see agentctl trust list)');
        return remove(ctx, values, second);
      }
      if (second !== undefined) throw usage('trust takes one key file or URL', 'Usage: agentctl trust --prefix PREFIX KEYFILE|URL');
      return add(ctx, values, first, confirm);
    },
  };
}

export const trustVerb = makeTrustVerb(terminalConfirm);
