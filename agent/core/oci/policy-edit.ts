/**
 * Edits a policy.json the way `podman image trust set` does: one scope's requirements
 * replaced (`default`, or a docker scope), everything else kept as written; and the rules
 * listed for `agentctl trust show`. The result is parsed again before it may be written, so
 * an edit never produces a file skopeo or agentd would refuse. Pure: no I/O.
 */
import { AgentError } from '../errors.js';
import { repositoryName, formatReference, parseDockerName } from './reference.js';
import { parsePolicy, type Policy, type Requirement } from './policy.js';

export type TrustType = 'accept' | 'reject' | 'signedBy';


/** Whether `scope` is something the docker transport looks up (see reference.ts). */
export function isDockerScope(scope: string): boolean {
  if (/^\*\.[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*$/.test(scope)) return true;
  if (/^[a-zA-Z0-9.-]+(?::[0-9]+)?$/.test(scope) && scope.includes('.')) return true;
  if (/^localhost(?::[0-9]+)?$/.test(scope)) return true;
  const ref = parseDockerName(scope);
  return ref !== undefined && (formatReference(ref) === scope || repositoryName(ref) === scope);
}

/**
 * The policy text with `scope` (`default` or a docker scope) set to one requirement of
 * `type`; `keyPaths` for signedBy. `current` is the file's text, or undefined for a new file,
 * which starts from `default: reject`: nothing is accepted unless a rule says so.
 */
export function setTrust(current: string | undefined, file: string, scope: string, type: TrustType, keyPaths: string[]): string {
  const usage = (message: string, hint: string) => new AgentError({ code: 'cli.usage', message, subject: scope, hint });
  if (scope !== 'default' && !isDockerScope(scope)) {
    throw usage('not a registry scope', 'Give default, HOST[:PORT], HOST/NAMESPACE, HOST/REPOSITORY[:TAG] or *.DOMAIN (e.g. quay.io/org)');
  }
  if (type === 'signedBy' && keyPaths.length === 0) throw usage('signedBy needs at least one key', 'Give --pubkeysfile KEYFILE (gpg --export FINGERPRINT > KEYFILE)');
  if (type !== 'signedBy' && keyPaths.length > 0) throw usage(`--type ${type} takes no key`, 'Keys go with --type signedBy');
  if (current !== undefined) parsePolicy(current, file);
  const raw = (current === undefined ? { default: [{ type: 'reject' }] } : JSON.parse(current)) as { default: unknown; transports?: Record<string, Record<string, unknown>> };
  const requirement =
    type === 'accept' ? { type: 'insecureAcceptAnything' }
    : type === 'reject' ? { type: 'reject' }
    : { type: 'signedBy', keyType: 'GPGKeys', ...(keyPaths.length === 1 ? { keyPath: keyPaths[0] } : { keyPaths }) };
  if (scope === 'default') {
    raw.default = [requirement];
  } else {
    raw.transports ??= {};
    raw.transports.docker ??= {};
    raw.transports.docker[scope] = [requirement];
  }
  const text = `${JSON.stringify(raw, null, 4)}\n`;
  parsePolicy(text, file);
  return text;
}

export interface PolicyRule {
  transport: string;
  /** `default` for the default rule, else the scope as written. */
  scope: string;
  requirements: Requirement[];
}

/** The rules of a policy, `default` first, then every transport's scopes in file order. */
export function policyRules(policy: Policy): PolicyRule[] {
  return [
    { transport: '', scope: 'default', requirements: policy.default },
    ...Object.entries(policy.transports).flatMap(([transport, scopes]) =>
      Object.entries(scopes).map(([scope, requirements]) => ({ transport, scope, requirements }))),
  ];
}

/** One requirement in a word or two, for tables: `signedBy (3 keys, matchExact)`. */
export function describeRequirement(r: Requirement): string {
  if (r.type !== 'signedBy') return r.type === 'insecureAcceptAnything' ? 'accept' : 'reject';
  const keys = 'data' in r.keys ? 'keyData' : r.keys.paths.join(', ');
  return `signedBy ${keys}${r.signedIdentity.type === 'matchRepoDigestOrExact' ? '' : ` (${r.signedIdentity.type})`}`;
}
