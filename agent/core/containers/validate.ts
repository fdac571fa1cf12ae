/**
 * Checks a container spec (and its host paths) before anything is rendered: every problem
 * is reported with the field it concerns, so one bad container gets a clear error and the
 * others still run. What needs the file system (does a volume's host path exist?) is
 * checked by agent/host/containers. Pure: no I/O.
 */
import { AgentError } from '../errors.js';
import { acIdentifierProblem, acNameProblem } from '../appc/names.js';
import { isImageId } from '../image/id.js';
import { conflistProblems } from '../network/conflist.js';
import { macvlanProblems } from '../network/macvlan.js';
import { appContainer, resolvePrivateUsers, type ContainerSpec, type RenderInput } from './spec.js';

export interface SpecProblem {
  /** The field, as written in cloud-config terms: `volumes[1].path`, `exec[2]`. */
  field: string;
  message: string;
}

/** A spec that cannot become a unit; `problems` lists every reason. */
export class ContainerSpecError extends AgentError {
  constructor(readonly container: string, readonly problems: SpecProblem[]) {
    super({
      code: 'container.invalid-spec',
      message: problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      subject: `container ${container}`,
      hint: 'Fix these fields of the container in host-agent.containers; the other containers are not affected',
    });
    this.name = 'ContainerSpecError';
  }
}

const RESTART = new Set(['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER = /^([a-z_][a-z0-9_-]*|[0-9]+)$/i;
const PRIVATE_USERS = /^(yes|no|true|false|pick|identity|[0-9]+(:[0-9]+)?)$/;
/** Control characters; a tab is allowed in arguments and values. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Characters that would split a `--bind=SRC:DST`, `BindPaths=` or overlay option. */
const PATH_SEPARATORS = /[:,\s]/;
const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$/;

function pathProblem(path: string, what: string): string | undefined {
  if (!path.startsWith('/')) return `${what} must be an absolute path, got "${path}"`;
  if (CONTROL.test(path)) return `${what} must not contain control characters`;
  if (PATH_SEPARATORS.test(path)) return `${what} must not contain ":", "," or blanks`;
  if (path.split('/').some((seg) => seg === '..' || seg === '.')) return `${what} must not contain "." or ".." segments, got "${path}"`;
  return undefined;
}

/** An appc name is an AC Identifier; any other reaches the unit's Description only, so one line of text. */
function imageNameProblem(format: string, name: string): string | undefined {
  if (format === 'appc') return acIdentifierProblem(name);
  return name === '' || CONTROL.test(name) ? `the image name must be one line of text, got ${JSON.stringify(name)}` : undefined;
}

/** Every problem of the spec itself; empty when it can be rendered. */
export function specProblems(spec: ContainerSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (field: string, message: string | undefined): void => {
    if (message !== undefined) problems.push({ field, message });
  };
  add('name', acNameProblem(spec.name));
  problems.push(...(spec.apps !== undefined ? appProblems(spec) : payloadProblems(spec)));
  if (spec.isolation !== 'nspawn' && spec.isolation !== 'fly') add('isolation', `isolation must be nspawn or fly, got "${String(spec.isolation)}"`);
  if (!RESTART.has(spec.restart)) add('restart', `restart must be one of ${[...RESTART].join(', ')}, got "${spec.restart}"`);
  problems.push(...networkProblems(spec));
  if (spec.memoryBytes !== undefined && !(Number.isSafeInteger(spec.memoryBytes) && spec.memoryBytes > 0)) {
    add('memory', `memory must be a positive number of bytes, got ${spec.memoryBytes}`);
  }
  if (spec.cpuPercent !== undefined && !(Number.isFinite(spec.cpuPercent) && spec.cpuPercent > 0)) {
    add('cpu', `cpu must be a percentage above 0, got ${spec.cpuPercent}`);
  }
  if (spec.privateUsers !== undefined && !PRIVATE_USERS.test(spec.privateUsers)) {
    add('private-users', `private-users must be true, false, pick, identity or UID[:COUNT], got "${spec.privateUsers}"`);
  } else if (spec.isolation === 'fly' && resolvePrivateUsers(spec.privateUsers, 'fly') !== undefined) {
    add('private-users', 'isolation fly runs without a user namespace; use isolation nspawn or set private-users: false');
  } else if (spec.apps !== undefined && resolvePrivateUsers(spec.privateUsers ?? 'no', 'fly') !== undefined) {
    add('private-users', 'the apps of a pod run without a user namespace; leave private-users out');
  }
  if (spec.isolation === 'nspawn' && spec.group !== undefined && !['0', 'root'].includes(spec.group)) {
    add('group', 'systemd-nspawn takes the group from the user\'s entry in the image\'s /etc/passwd; leave group out or use isolation fly');
  }
  return problems;
}

/** A pod's apps: at least one, names unique AC Names, each checked as a fly container of its own. */
function appProblems(spec: ContainerSpec): SpecProblem[] {
  const apps = spec.apps ?? [];
  const problems: SpecProblem[] = [];
  if (apps.length === 0) problems.push({ field: 'apps', message: 'a pod needs at least one app' });
  const seen = new Set<string>();
  apps.forEach((app, i) => {
    if (seen.has(app.name)) problems.push({ field: `apps[${i}].name`, message: `app "${app.name}" is declared twice in the pod` });
    seen.add(app.name);
    for (const p of specProblems(appContainer(spec, app))) problems.push({ field: `apps[${i}].${p.field}`, message: p.message });
  });
  return problems;
}

/** The payload of a container: image, command, environment, identity, volumes. */
function payloadProblems(spec: ContainerSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (field: string, message: string | undefined): void => {
    if (message !== undefined) problems.push({ field, message });
  };
  if (!isImageId(spec.image.id)) add('image', `image ID must be sha512- and 128 hex digits or sha256- and 64, got "${spec.image.id}"`);
  add('image', imageNameProblem(spec.image.format, spec.image.name));
  if (spec.image.layers.length === 0) add('image', 'the image has no layers');

  const exec = spec.exec ?? spec.image.run?.exec;
  const execField = spec.exec ? 'exec' : 'image exec';
  if (!exec || exec.length === 0) {
    add('exec', 'no command: the image has none (appc app.exec, OCI Entrypoint and Cmd), so the container must declare exec');
  } else {
    if (!exec[0].startsWith('/')) add(`${execField}[0]`, `the program must be an absolute path or a name found on the container's PATH in the image, got "${exec[0]}"`);
    exec.forEach((arg, i) => {
      if (CONTROL.test(arg)) add(`${execField}[${i}]`, 'arguments must not contain newlines or other control characters');
    });
  }

  for (const [name, value] of Object.entries(spec.environment)) {
    if (!ENV_NAME.test(name)) add(`environment.${name}`, 'variable names are letters, digits and "_", not starting with a digit');
    if (value.includes('\0')) add(`environment.${name}`, 'values must not contain NUL');
  }
  for (const field of ['user', 'group'] as const) {
    const value = spec[field];
    if (value !== undefined && !USER.test(value)) add(field, `${field} must be a name such as "nobody" or a numeric id, got "${value}"`);
  }
  if (spec.workingDirectory !== undefined) add('working-directory', pathProblem(spec.workingDirectory, 'the working directory'));

  const seenPaths = new Set<string>();
  spec.volumes.forEach((v, i) => {
    add(`volumes[${i}].host`, pathProblem(v.host, 'the host path'));
    add(`volumes[${i}].path`, pathProblem(v.path, 'the container path'));
    if (v.path === '/') add(`volumes[${i}].path`, 'a volume cannot replace the container\'s root');
    if (seenPaths.has(v.path)) add(`volumes[${i}].path`, `${v.path} is mounted twice`);
    seenPaths.add(v.path);
  });
  return problems;
}

/** Ports, network and DNS. */
function networkProblems(spec: ContainerSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (field: string, message: string | undefined): void => {
    if (message !== undefined) problems.push({ field, message });
  };
  const network = spec.network?.mode ?? 'host';
  const seenPorts = new Set<string>();
  spec.ports.forEach((p, i) => {
    for (const field of ['host', 'container'] as const) {
      if (!Number.isInteger(p[field]) || p[field] < 1 || p[field] > 65535) add(`ports[${i}].${field}`, `port must be 1-65535, got ${p[field]}`);
    }
    if (p.protocol !== 'tcp' && p.protocol !== 'udp') add(`ports[${i}].protocol`, `protocol must be tcp or udp, got "${String(p.protocol)}"`);
    const key = `${p.protocol}:${p.host}`;
    if (seenPorts.has(key)) add(`ports[${i}].host`, `host port ${key} is forwarded twice`);
    seenPorts.add(key);
    if (spec.isolation === 'fly' && p.host !== p.container) {
      add(`ports[${i}]`, 'isolation fly shares the host network, so a port cannot be mapped to another number');
    } else if (network === 'host' && p.host !== p.container) {
      add(`ports[${i}]`, 'on network host the container binds host ports itself, so a port cannot be mapped to another number; use a container network (default)');
    } else if (network === 'none') {
      add(`ports[${i}]`, 'network none has no interface to forward a port to; use a container network (default)');
    }
  });
  if (spec.isolation === 'fly' && network !== 'host') add('network', 'isolation fly shares the host network; use network host or isolation nspawn');
  if (spec.network?.mode === 'cni') {
    for (const problem of conflistProblems(spec.network.conflist)) add('network', problem);
  }
  if (spec.network?.mode === 'macvlan') {
    for (const problem of macvlanProblems(spec.network.network)) add('network', problem);
  }
  if (spec.network?.mode === 'cni' || spec.network?.mode === 'macvlan' || spec.network?.mode === 'default') {
    spec.network.dns.forEach((d, i) => add(`dns[${i}]`, IP_ADDRESS.test(d) ? undefined : `a nameserver is an IPv4 or IPv6 address, got "${d}"`));
  }
  return problems;
}

/** Problems of the host paths the host side computed (they reach command lines too). */
export function hostProblems(input: RenderInput): SpecProblem[] {
  const { host } = input;
  const paths: Array<[string, string | undefined]> = [
    ...host.imageLayers.map((dir, i): [string, string] => [`host.imageLayers[${i}]`, dir]),
    ['host.layer.upper', host.layer.upper],
    ['host.layer.work', host.layer.work],
    ['host.layer.merged', host.layer.merged],
    ['host.outputFile', host.outputFile],
    ['host.legacyCgroups.memory', host.legacyCgroups?.memory],
    ['host.legacyCgroups.cpu', host.legacyCgroups?.cpu],
    ['host.pod.exitFifo', host.pod?.exitFifo],
    ['host.pod.ipcNamespace', host.pod?.ipcNamespace],
    ...(host.pod?.apps ?? []).flatMap((app, i): Array<[string, string]> => [
      ...app.imageLayers.map((dir, j): [string, string] => [`host.pod.apps[${i}].imageLayers[${j}]`, dir]),
      ...Object.entries(app.layer).map(([k, dir]): [string, string] => [`host.pod.apps[${i}].layer.${k}`, dir]),
    ]),
  ];
  const problems: SpecProblem[] = [];
  for (const [field, path] of paths) {
    const message = path === undefined ? undefined : pathProblem(path, field);
    if (message !== undefined) problems.push({ field, message });
  }
  const mode = input.spec.network?.mode;
  if ((mode === 'cni' || mode === 'macvlan' || mode === 'default') && host.network === undefined) {
    problems.push({ field: 'host.network', message: 'a container network needs the host\'s network settings (helper, run and netns directories)' });
  }
  const networkPaths = [
    ['host.network.helper', host.network?.helper[0]],
    ['host.network.runDir', host.network?.runDir],
    ['host.network.netnsDir', host.network?.netnsDir],
  ] as const;
  for (const [field, path] of networkPaths) {
    const message = path === undefined ? undefined : pathProblem(path, field);
    if (message !== undefined) problems.push({ field, message });
  }
  if (input.spec.apps !== undefined && host.pod?.apps.length !== input.spec.apps.length) {
    problems.push({ field: 'host.pod', message: 'a pod needs the host paths of each of its apps' });
  }
  if (host.wantedBy !== undefined && !/^[A-Za-z0-9_.@-]+$/.test(host.wantedBy)) {
    problems.push({ field: 'host.wantedBy', message: `not a unit name: "${host.wantedBy}"` });
  }
  return problems;
}

/** Throws ContainerSpecError unless both the spec and its host paths are fine. */
export function assertRenderable(input: RenderInput): void {
  const problems = [...specProblems(input.spec), ...hostProblems(input)];
  if (problems.length > 0) throw new ContainerSpecError(input.spec.name, problems);
}
