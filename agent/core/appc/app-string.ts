/**
 * Image references as people write them: `name[:version][,label=value]…`, read as the
 * reference's discovery.NewAppFromString reads them (the version becomes the `version`
 * label; values are taken verbatim), plus the defaults this agent applies: `version`
 * `latest`, and `os`/`arch` from the caller (the host). Pure: no I/O.
 */

import { AgentError } from '../errors.js';
import { acIdentifierProblem } from './names.js';

export interface AppRef {
  /** The image name, an AC Identifier. */
  name: string;
  /** Labels in the order written, then the defaults; never a label called `name`. */
  labels: Record<string, string>;
}

export interface AppDefaults {
  os: string;
  arch: string;
}

/** The version label's value when none is given. */
export const DEFAULT_VERSION = 'latest';

function bad(app: string, message: string): never {
  throw new AgentError({
    code: 'appc.invalid-app-string',
    message,
    subject: app,
    hint: 'Write the image as NAME[:VERSION][,LABEL=VALUE]…, e.g. example.com/web:1.4.0,channel=stable',
  });
}

/** Go's `%q` of a list of strings: `["a" "b"]`. */
function quoteList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(' ')}]`;
}

/** Parses an app string as written, without defaults. */
export function parseAppString(app: string): AppRef {
  const firstComma = app.indexOf(',');
  const firstColon = app.indexOf(':');
  if (firstComma > -1 && firstColon > firstComma) {
    bad(app, 'malformed app string - colon may appear only right after the app name');
  }
  if (app.split(':').length > 2) bad(app, 'malformed app string - colon may appear at most once');
  const values = new Map<string, string[]>();
  const parts = `name=${app.replace(':', ',version=')}`.split(',');
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) bad(app, `malformed app string - has a label without a value: ${part}`);
    const key = part.slice(0, eq);
    values.set(key, [...(values.get(key) ?? []), part.slice(eq + 1)]);
  }
  const labels: Record<string, string> = {};
  for (const [key, vals] of values) {
    if (vals.length > 1) bad(app, `label ${key} with multiple values ${quoteList(vals)}`);
    if (key === 'name') continue;
    const problem = acIdentifierProblem(key);
    if (problem) bad(app, problem);
    labels[key] = vals[0];
  }
  const name = values.get('name')?.[0] ?? '';
  const problem = acIdentifierProblem(name);
  if (problem) bad(app, problem);
  return { name, labels };
}

/** Adds the defaults to labels left out: `version` (also when empty), `os`, `arch`. */
export function withDefaultLabels(ref: AppRef, defaults: AppDefaults): AppRef {
  const labels = { ...ref.labels };
  if (!labels.version) labels.version = DEFAULT_VERSION;
  if (!Object.hasOwn(labels, 'os')) labels.os = defaults.os;
  if (!Object.hasOwn(labels, 'arch')) labels.arch = defaults.arch;
  return { name: ref.name, labels };
}

/** Parses an app string and applies this agent's defaults. */
export function parseImageReference(app: string, defaults: AppDefaults): AppRef {
  return withDefaultLabels(parseAppString(app), defaults);
}
