/**
 * agentctl enter NAME [-- CMD…]: a command (default /bin/sh) inside a running container,
 * in every namespace of its payload (nsenter into the container's init, the child of
 * systemd-nspawn, the unit's main process). `POD/APP`: into an app of a pod, whose
 * process is its unit's main process (in its root and the pod's namespaces). Needs root,
 * like nsenter.
 */
import { readFile } from 'node:fs/promises';
import { AgentError } from '../../core/errors.js';
import type { Verb } from '../verb.js';
import { findContainer } from './containers.js';
import { pipeChild } from './logs.js';

/** The first child of `pid` (nspawn's child is the container's pid 1). */
export async function firstChild(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const child = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(child) && child > 0 ? child : undefined;
}

export const enterVerb: Verb = {
  name: 'enter',
  synopsis: 'NAME [-- CMD [ARGS…]]',
  help: '',
  options: {},
  positionals: { min: 1, max: Number.MAX_SAFE_INTEGER },
  async run(ctx, { positionals }) {
    const [name, ...cmd] = positionals as [string, ...string[]];
    const [podName, appName] = name.split('/', 2) as [string, string | undefined];
    const c = await findContainer(ctx, podName);
    if (c.apps !== undefined && appName === undefined) {
      throw new AgentError({
        code: 'cli.pod', message: 'this is a pod: enter one of its apps', subject: name,
        hint: `e.g. agentctl enter ${c.apps.map((a) => `${podName}/${a.name}`).join(' or ')}`,
      });
    }
    const app = appName === undefined ? undefined : c.apps?.find((a) => a.name === appName);
    if (appName !== undefined && app === undefined) {
      throw new AgentError({ code: 'cli.not-found', message: `no app ${appName} in ${podName}`, subject: name, hint: 'See agentctl ps' });
    }
    const running = app ?? c;
    const target = running.state !== 'running' || running.mainPid <= 0 ? undefined : app ? app.mainPid : await firstChild(c.mainPid);
    if (target === undefined) {
      throw new AgentError({ code: 'cli.not-running', message: `the container is ${running.state}`, subject: name, hint: `Start it first: agentctl start ${podName}` });
    }
    const command = cmd.length > 0 ? cmd : ['/bin/sh'];
    return pipeChild(ctx, 'nsenter', ['--target', String(target), '--all', '--root', '--wd', '--', ...command], 'inherit');
  },
};
