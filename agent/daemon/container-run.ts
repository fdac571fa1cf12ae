/**
 * One-off containers (`agentctl run`, the rkt `run` experience): the properties of a
 * transient unit `container-<name>.service` that runs an image under systemd-nspawn,
 * supervised by systemd like a declared container but with no unit file (gone once it
 * stopped; a failed run stays until `agentctl rm`). On a network of its own, the network
 * helper's `up` and `down` run before and after it, as for a declared container. Its
 * Description names the network, the forwarded ports and the image ID, so an agent that
 * restarts knows which image a run holds, where it runs and which host ports it holds. Also the last lines of a container's output, from
 * its output file or the journal.
 */
import { execFile } from 'node:child_process';
import { access, open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { limitsOf } from '../core/containers/limits.js';
import { networkCommands, startCommand, startPre } from '../core/containers/network.js';
import { networkName } from '../core/network/choice.js';
import { legacyCgroupWrites, nspawnCommand } from '../core/containers/nspawn.js';
import { busArgv } from '../core/containers/quote.js';
import { resolve, type ContainerHost, type ContainerSpec, type PortSpec } from '../core/containers/spec.js';
import type { TransientProperty } from '../host/systemd/manager.js';

const run = promisify(execFile);

/** The absolute path of `program` on PATH (transient units need one). */
async function which(program: string, path = process.env.PATH ?? '/usr/bin:/bin'): Promise<string> {
  if (program.startsWith('/')) return program;
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, program);
    if (await access(candidate).then(() => true, () => false)) return candidate;
  }
  return `/usr/bin/${program}`;
}

/** The image ID a run's unit Description names (see transientProperties), or undefined. */
export function imageOfRun(description: string): string | undefined {
  return / \((?:.*, )?(sha(?:256|512)-[0-9a-f]+)\)$/.exec(description)?.[1];
}

/** The network a run's unit Description names; `host` for runs of agents that did not name it. */
export function networkOfRun(description: string): string {
  return / \(network ([^,]+), /.exec(description)?.[1] ?? 'host';
}

/** The ports a run's unit Description names (`ports 8080:80/tcp …`). */
export function portsOfRun(description: string): PortSpec[] {
  const list = /, ports ([^,]+), /.exec(description)?.[1] ?? '';
  return list.split(' ').flatMap((p) => {
    const m = /^(\d+):(\d+)\/(tcp|udp)$/.exec(p);
    return m ? [{ host: Number(m[1]), container: Number(m[2]), protocol: m[3] as PortSpec['protocol'] }] : [];
  });
}

/**
 * Properties of the transient unit of `spec` (already validated by ContainerUnits.render;
 * its `default` network already given its interface and subnet).
 */
export async function transientProperties(spec: ContainerSpec, host: ContainerHost): Promise<TransientProperty[]> {
  const c = resolve(spec);
  const network = networkName(c.network);
  const ports = c.ports.length > 0 ? `, ports ${c.ports.map((p) => `${p.host}:${p.container}/${p.protocol}`).join(' ')}` : '';
  const limits = limitsOf(c);
  const net = networkCommands(c, host);
  const argv = startCommand(net, nspawnCommand(c, host, limits));
  const pre = startPre(net, true);
  const props: TransientProperty[] = [
    ['Description', 's', `Container run ${c.name} (network ${network}${ports}, ${c.imageName}, ${c.imageId})`],
    ['Slice', 's', 'machine.slice'],
    ['Type', 's', 'notify'],
    ['Delegate', 'b', true],
    ['KillMode', 's', 'control-group'],
    ...(pre ? [['ExecStartPre', 'a(sasb)', [[await which(pre[0]!), busArgv(pre), false]]] as TransientProperty] : []),
    ['ExecStart', 'a(sasb)', [[await which(argv[0]!), busArgv(argv), false]]],
  ];
  const cleanup = [
    ...(net ? [[await which(net.post[0]!), busArgv(net.post), true]] : []),
    ...legacyCgroupWrites(c, host, limits).map(([dir]) => ['/bin/rmdir', ['rmdir', dir], true]),
  ];
  if (cleanup.length > 0) props.push(['ExecStopPost', 'a(sasb)', cleanup]);
  if (host.outputFile !== undefined) {
    props.push(['StandardOutputFileToAppend', 's', host.outputFile], ['StandardErrorFileToAppend', 's', host.outputFile]);
  }
  return props;
}

const TAIL_BYTES = 8192;

/** The last `lines` lines of a container's output: its file, or the journal of its unit. */
export async function lastOutput(source: { file: string } | { unit: string; bus: 'system' | 'session' }, lines = 10): Promise<string[]> {
  if ('unit' in source) {
    const args = [source.bus === 'session' ? '--user-unit' : '--unit', source.unit, '-n', String(lines), '--no-pager', '-o', 'cat'];
    const { stdout } = await run('journalctl', args).catch(() => ({ stdout: '' }));
    return stdout.split('\n').filter((l) => l !== '').slice(-lines);
  }
  const handle = await open(source.file, 'r').catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - start), 0, size - start, start);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    const all = text.split('\n').filter((l) => l !== '');
    return (start > 0 ? all.slice(1) : all).slice(-lines);
  } finally {
    await handle.close();
  }
}
