/**
 * The verb table of agentctl: one entry per verb, with the one-line summary `--help`
 * lists. Each verb lives in its own module, loaded only when that verb runs, so a call
 * pays for its own dependencies alone (`status` must start about as fast as node).
 */
import type { Verb } from '../verb.js';

export interface VerbEntry {
  name: string;
  summary: string;
  load(): Promise<Verb>;
  /** Not listed in help or the man page: used by the completion script. */
  hidden?: boolean;
}

const byName = (verbs: Verb[], name: string): Verb => verbs.find((v) => v.name === name)!;

export const VERBS: readonly VerbEntry[] = [
  { name: 'status', summary: 'Show the agent, its systemd connection, config, updates, reboots and managed units', load: async () => (await import('./status.js')).statusVerb },
  { name: 'config', summary: 'Validate, show, plan or apply the cloud-config', load: async () => (await import('./config.js')).configVerb },
  { name: 'reload', summary: 'Re-read the configuration, apply it and re-scan managed units (root only)', load: async () => (await import('./reload.js')).reloadVerb },
  { name: 'fetch', summary: 'Fetch, verify and store images by path, URL or name; prints their IDs', load: async () => (await import('./fetch.js')).fetchVerb },
  { name: 'image', summary: 'Build, sign, publish, validate, list, remove, garbage-collect, show and export images; image auto-update (updates)', load: async () => (await import('./image.js')).imageVerb },
  { name: 'images', summary: 'Same as image (e.g. agentctl images updates)', load: async () => (await import('./image.js')).imageVerb },
  { name: 'trust', summary: 'Trust keys to sign images (appc per name prefix, OCI policy per registry scope); list and remove them', load: async () => (await import('./trust.js')).trustVerb },
  { name: 'update', summary: 'Show, check, apply, reset or roll back OS updates (A/B slots); update containers [--now]', load: async () => (await import('./update.js')).updateVerb },
  { name: 'lock', summary: 'Show or change the etcd reboot lock (works without a running agent)', load: async () => (await import('./lock.js')).lockVerb },
  { name: 'list', summary: 'List containers: name, image, version, state, PID, uptime, restarts', load: async () => byName((await import('./containers.js')).listVerbs, 'list') },
  { name: 'ps', summary: 'List containers (same as list)', load: async () => byName((await import('./containers.js')).listVerbs, 'ps') },
  { name: 'start', summary: 'Start a container; returns once its payload runs (root only)', load: async () => byName((await import('./container-actions.js')).actionVerbs, 'start') },
  { name: 'stop', summary: 'Stop a container until it is started or the configuration applied again (root only)', load: async () => byName((await import('./container-actions.js')).actionVerbs, 'stop') },
  { name: 'restart', summary: 'Restart a container (root only)', load: async () => byName((await import('./container-actions.js')).actionVerbs, 'restart') },
  { name: 'rm', summary: 'Remove the writable layer of a container no longer declared, or a finished run (root only)', load: async () => byName((await import('./container-actions.js')).actionVerbs, 'rm') },
  { name: 'run', summary: 'Run an image once as a transient container supervised by systemd, attached to its output (root only)', load: async () => (await import('./run.js')).runVerb },
  { name: 'logs', summary: "Show a container's output (journal, or its output file)", load: async () => (await import('./logs.js')).logsVerb },
  { name: 'enter', summary: 'Run a command (default /bin/sh) inside a running container (root only)', load: async () => (await import('./enter.js')).enterVerb },
  { name: 'help', summary: 'Show the verbs, or the help of one verb (as VERB --help)', load: async () => (await import('./help.js')).helpVerb },
  { name: 'version', summary: 'Print the version of agentctl', load: async () => (await import('./help.js')).versionVerb },
  { name: '__complete', summary: 'Completion candidates for the words given (the bash completion calls it)', hidden: true, load: async () => (await import('./complete.js')).completeVerb },
];

export function findVerb(name: string): VerbEntry | undefined {
  return VERBS.find((v) => v.name === name);
}
