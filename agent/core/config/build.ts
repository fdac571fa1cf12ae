/**
 * From a merged document without errors to the typed HostConfig, with the checks that need
 * the whole item or all files (a container's image may come from another file than its
 * memory limit): required names and paths (items of the reference's sections without one are
 * skipped, as coreos-cloudinit skipped them), unit and drop-in file names, windows given whole,
 * the first `exec` word. Defaults are filled in here. Entries name the file of the node.
 * Pure: no I/O.
 */
import { parseImageText } from '../image/match.js';
import type { RebootStrategy } from '../schedule/strategy.js';
import { parseWindow } from '../schedule/window.js';
import { parseCpuPercent, parseSize } from './checks.js';
import { FLANNEL } from './coreos-schema.js';
import { contentBytes, decodeContent, type Gunzip } from './encoding.js';
import { resolveAbsolute } from './paths.js';
import type { Report } from './report.js';
import { child, present, type Named } from './schema.js';
import type { MapNode, TreeNode } from './tree.js';
import type { UpdateProtocol } from '../update/omaha.js';
import type {
  App, ConfiguredWindow, Container, DeclaredNetwork, DropIn, HostConfig, Isolation, LocksmithConfig, Origin, Port, Protocol,
  RestartPolicy, TrustEntry, Unit, UnitCommand, User, Volume, WriteFile,
} from './types.js';

/** A systemd unit, or a networkd file (./network-units.ts). */
const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope|network|netdev|link)$/;
const DROP_IN_NAME = /^[^/.][^/]*\.conf$/;
/** What /etc/hostname can hold as one line: no blanks, controls or `/` (hostnamed judges the rest at apply). */
const HOSTNAME = /^[^\s/\u0000-\u001f\u007f]+$/;

/** Reads typed values out of a merged document, reporting what is missing or wrong. */
class Reader {
  constructor(private readonly report: Report) {}

  /** A reader whose errors lie in the isolated item `name` (a container): they reject it alone. */
  forItem(name: string): Reader {
    return new Reader(this.report.forItem(name));
  }

  error(node: TreeNode, line: number, message: string): void {
    this.report.addFor(node.file, 'error', line, message);
  }

  origin(node: TreeNode): Origin {
    return node.file === undefined ? { line: node.line } : { file: node.file, line: node.line };
  }

  /** A string field: its text, or undefined when absent, empty or not a scalar. */
  text(parent: TreeNode | undefined, key: string): string | undefined {
    const c = present(parent, key);
    return c?.node.kind === 'scalar' && c.node.text !== '' ? c.node.text : undefined;
  }

  flag(parent: TreeNode | undefined, key: string): boolean {
    const c = present(parent, key);
    return c?.node.kind === 'scalar' && c.node.value === true;
  }

  number(parent: TreeNode | undefined, key: string): number | undefined {
    const c = present(parent, key);
    return c?.node.kind === 'scalar' && c.node.type === 'int' ? (c.node.value as number) : undefined;
  }

  strings(parent: TreeNode | undefined, key: string): string[] | undefined {
    const c = present(parent, key);
    if (c?.node.kind !== 'seq') return undefined;
    return c.node.items.flatMap((i) => (i.kind === 'scalar' && i.type !== 'null' ? [i.text] : []));
  }

  /** The map items of a list (items of another type were reported by the structure rule). */
  items(parent: TreeNode | undefined, key: string): MapNode[] {
    const c = present(parent, key);
    return c?.node.kind === 'seq' ? c.node.items.filter((i): i is MapNode => i.kind === 'map') : [];
  }

  map(parent: TreeNode | undefined, key: string): MapNode | undefined {
    const c = present(parent, key);
    return c?.node.kind === 'map' ? c.node : undefined;
  }

  /** The item's name, or an error saying it is required. */
  required(item: MapNode, key: string, what: string, example: string): string | undefined {
    const value = this.text(item, key);
    if (value === undefined) this.error(item, item.line, `${what} has no "${key}"; e.g. ${key}: ${example}`);
    return value;
  }

  /** A window given as two keys: both or neither. */
  window(parent: TreeNode | undefined, startKey: string, lengthKey: string): ConfiguredWindow | undefined {
    const start = this.text(parent, startKey);
    const length = this.text(parent, lengthKey);
    if (start === undefined && length === undefined) return undefined;
    const at: Named = (present(parent, start === undefined ? lengthKey : startKey))!;
    if (start === undefined || length === undefined) {
      this.error(at.node, at.line, `a window needs both "${startKey}" and "${lengthKey}", e.g. "Sun 03:00" and "2h"`);
      return undefined;
    }
    const parsed = parseWindow(start, length);
    if (!parsed.ok) {
      this.error(at.node, at.line, parsed.problem);
      return undefined;
    }
    return { start, length, window: parsed.value };
  }
}

function readUnit(r: Reader, item: MapNode): Unit | undefined {
  // Items of the reference's sections without their name are skipped, as coreos-cloudinit did.
  const name = r.text(item, 'name');
  if (name === undefined) return undefined;
  if (!UNIT_NAME.test(name)) {
    r.error(item, item.line, `invalid unit name "${name}": use a unit file name with its type, e.g. web.service or backup.timer`);
    return undefined;
  }
  const dropIns: DropIn[] = [];
  for (const d of r.items(item, 'drop_ins')) {
    const dropIn = r.text(d, 'name');
    if (dropIn === undefined) continue;
    if (!DROP_IN_NAME.test(dropIn)) {
      r.error(d, d.line, `invalid drop-in name "${dropIn}": use a file name ending in .conf, e.g. 50-limits.conf`);
      continue;
    }
    dropIns.push({ name: dropIn, content: r.text(d, 'content') ?? '' });
  }
  const content = r.text(item, 'content');
  const command = r.text(item, 'command') as UnitCommand | undefined;
  return {
    name,
    ...(content !== undefined && { content }),
    runtime: r.flag(item, 'runtime'),
    enable: r.flag(item, 'enable'),
    mask: r.flag(item, 'mask'),
    ...(command !== undefined && { command }),
    dropIns,
    origin: r.origin(item),
  };
}

function readWriteFile(r: Reader, item: MapNode, gunzip: Gunzip): WriteFile | undefined {
  const path = r.text(item, 'path');
  if (path === undefined) return undefined;
  const content = decodeContent(contentBytes(present(item, 'content')?.node) ?? new Uint8Array(0), r.text(item, 'encoding') ?? '', gunzip);
  if (content === undefined) {
    r.error(item, item.line, `content of ${path} cannot be decoded`);
    return undefined;
  }
  const owner = r.text(item, 'owner');
  const permissions = r.text(item, 'permissions');
  return {
    path: resolveAbsolute(path),
    content,
    ...(owner !== undefined && { owner }),
    permissions: permissions === undefined ? 0o644 : parseInt(permissions, 8),
    origin: r.origin(item),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function readUser(r: Reader, item: MapNode): User | undefined {
  const name = r.text(item, 'name');
  if (name === undefined) return undefined;
  return {
    name,
    ...optional('passwd', r.text(item, 'passwd') || undefined),
    sshAuthorizedKeys: r.strings(item, 'ssh_authorized_keys') ?? [],
    ...optional('gecos', r.text(item, 'gecos')),
    ...optional('homedir', r.text(item, 'homedir')),
    noCreateHome: r.flag(item, 'no_create_home'),
    ...optional('primaryGroup', r.text(item, 'primary_group')),
    groups: r.strings(item, 'groups') ?? [],
    noUserGroup: r.flag(item, 'no_user_group'),
    system: r.flag(item, 'system'),
    noLogInit: r.flag(item, 'no_log_init'),
    ...optional('shell', r.text(item, 'shell')),
    origin: r.origin(item),
  };
}

/** What a container and an app both declare: command, environment, volumes, identity. `what`: `container "web"`. */
function readPayload(r: Reader, item: MapNode, what: string): Pick<App, 'exec' | 'environment' | 'volumes' | 'user' | 'group' | 'workingDirectory'> | undefined {
  const exec = r.strings(item, 'exec');
  const program = exec?.[0];
  if (exec !== undefined && !(program && (program.startsWith('/') || !program.includes('/')))) {
    const at = present(item, 'exec')!;
    r.error(at.node, at.line, `the exec of ${what} must begin with an absolute path or a program name looked up on PATH, e.g. [/bin/httpd, -f] or [httpd, -f]`);
    return undefined;
  }
  const volumes: Volume[] = [];
  for (const v of r.items(item, 'volumes')) {
    const host = r.required(v, 'host', `a volume of ${what}`, '/var/lib/web');
    const path = r.required(v, 'path', `a volume of ${what}`, '/data');
    if (host !== undefined && path !== undefined) volumes.push({ host, path, readOnly: r.flag(v, 'read_only') });
  }
  const environment: Record<string, string> = Object.fromEntries((r.map(item, 'environment')?.pairs ?? [])
    .flatMap((p) => (p.value.kind === 'scalar' && p.value.type !== 'null' ? [[p.key, p.value.text]] : [])));
  return {
    ...optional('exec', exec),
    environment,
    volumes,
    ...optional('user', r.text(item, 'user')),
    ...optional('group', r.text(item, 'group')),
    ...optional('workingDirectory', r.text(item, 'working_directory')),
  };
}

/** Keys of a container that belong to each app of a pod, or that a pod does not take. */
const NOT_WITH_APPS: Array<[string, string]> = [
  ['image', 'give each app its image'], ['exec', 'give it to the app that runs it'], ['environment', 'give it to each app that needs it'],
  ['volumes', 'give them to each app that mounts them'], ['user', 'give it to the app'], ['group', 'give it to the app'],
  ['working_directory', 'give it to the app'], ['isolation', 'a pod\'s apps run as RootDirectory= services in the pod\'s namespaces'],
  ['private_users', 'a pod\'s apps run without a user namespace'], ['auto_update', 'pods follow the images their apps name, without auto-update'],
];

/** The apps of a pod, or undefined when one is wrong (reported). */
function readApps(r: Reader, item: MapNode, name: string): App[] | undefined {
  const at = present(item, 'apps')!;
  let ok = true;
  for (const [key, fix] of NOT_WITH_APPS) {
    const misplaced = present(item, key);
    if (misplaced) {
      r.error(misplaced.node, misplaced.line, `container "${name}" is a pod (it has apps), so "${key}" does not belong to it: ${fix}`);
      ok = false;
    }
  }
  const items = r.items(item, 'apps');
  if (items.length === 0) {
    r.error(at.node, at.line, `the pod "${name}" has no apps; e.g. apps: [{name: web, image: example.com/web:1.0.0}]`);
    return undefined;
  }
  const apps: App[] = [];
  const lines = new Map<string, number>();
  for (const a of items) {
    const appName = r.required(a, 'name', `an app of pod "${name}"`, 'web');
    const imageText = r.required(a, 'image', `app "${appName ?? '?'}" of pod "${name}"`, 'example.com/web:1.4.0');
    if (appName !== undefined && lines.has(appName)) {
      r.error(a, a.line, `app "${appName}" is declared twice in pod "${name}" (also at line ${lines.get(appName)}); give each app its own name`);
      ok = false;
    }
    if (appName !== undefined) lines.set(appName, a.line);
    const payload = readPayload(r, a, `app "${appName ?? '?'}" of pod "${name}"`);
    if (appName === undefined || imageText === undefined || payload === undefined) {
      ok = false;
      continue;
    }
    apps.push({ name: appName, image: parseImageText(imageText), imageText, ...payload, origin: r.origin(a) });
  }
  return ok ? apps : undefined;
}

function readContainer(reader: Reader, item: MapNode): Container | undefined {
  const name = reader.required(item, 'name', 'a container', 'web');
  if (name === undefined) return undefined;
  const r = reader.forItem(name);
  const apps = present(item, 'apps') ? readApps(r, item, name) : undefined;
  if (present(item, 'apps') && apps === undefined) return undefined;
  const imageText = apps ? apps[0]!.imageText : r.required(item, 'image', `container "${name}"`, 'example.com/web:1.4.0');
  const payload = apps ? { environment: {}, volumes: [] } : readPayload(r, item, `container "${name}"`);
  if (payload === undefined) return undefined;
  const ports: Port[] = [];
  for (const p of r.items(item, 'ports')) {
    const host = r.number(p, 'host');
    if (host === undefined) {
      r.error(p, p.line, `a port of container "${name}" has no "host"; e.g. {host: 8080, container: 80}`);
      continue;
    }
    ports.push({ host, container: r.number(p, 'container') ?? host, protocol: (r.text(p, 'protocol') ?? 'tcp') as Protocol });
  }
  if (imageText === undefined) return undefined;
  const memory = r.text(item, 'memory');
  const cpu = r.text(item, 'cpu');
  const privateUsers = r.text(item, 'private_users');
  return {
    name,
    image: parseImageText(imageText),
    imageText,
    ...payload,
    ...optional('memoryBytes', memory === undefined ? undefined : parseSize(memory)),
    ...optional('cpuPercent', cpu === undefined ? undefined : parseCpuPercent(cpu)),
    restart: (r.text(item, 'restart') ?? 'no') as RestartPolicy,
    isolation: (r.text(item, 'isolation') ?? 'nspawn') as Isolation,
    autoUpdate: r.flag(item, 'auto_update'),
    ports,
    ...optional('privateUsers', privateUsers === 'true' ? 'yes' : privateUsers === 'false' ? 'no' : privateUsers),
    ...optional('network', r.text(item, 'network')),
    dns: r.strings(item, 'dns') ?? [],
    ...optional('apps', apps),
    origin: r.origin(item),
  };
}

function readNetwork(r: Reader, item: MapNode): DeclaredNetwork | undefined {
  const name = r.required(item, 'name', 'a network', 'backend');
  const text = r.required(item, 'conflist', 'a network', '\'{"cniVersion": "1.0.0", "plugins": [{"type": "bridge", …}]}\'');
  if (name === undefined || text === undefined) return undefined;
  try {
    return { name, conflist: JSON.parse(text) as Record<string, unknown>, origin: r.origin(item) };
  } catch {
    return undefined; // reported by the schema's check
  }
}

function readTrust(r: Reader, item: MapNode): TrustEntry | undefined {
  const prefix = r.required(item, 'prefix', 'a trust entry', 'example.com/web');
  const key = r.required(item, 'key', 'a trust entry', '"-----BEGIN PGP PUBLIC KEY BLOCK-----…"');
  return prefix === undefined || key === undefined ? undefined : { prefix, key, origin: r.origin(item) };
}

function readLocksmith(r: Reader, node: TreeNode | undefined): LocksmithConfig {
  return {
    ...optional('endpoint', r.text(node, 'endpoint')),
    ...optional('group', r.text(node, 'group')),
    ...optional('window', r.window(node, 'window_start', 'window_length')),
    ...optional('etcdCaFile', r.text(node, 'etcd_cafile')),
    ...optional('etcdCertFile', r.text(node, 'etcd_certfile')),
    ...optional('etcdKeyFile', r.text(node, 'etcd_keyfile')),
    ...optional('etcdUsername', r.text(node, 'etcd_username')),
    ...optional('etcdPassword', r.text(node, 'etcd_password')),
  };
}

const defined = <T>(values: (T | undefined)[]): T[] => values.filter((v): v is T => v !== undefined);

/**
 * A host port forwarded by two containers is an error of the configuration, not of one
 * container (which of the two should move is the writer's choice): it is refused whole
 * and the last good one stays in force.
 */
function checkSharedHostPorts(r: Reader, containers: MapNode[]): void {
  const owners = new Map<string, string>();
  for (const item of containers) {
    const name = r.text(item, 'name');
    if (name === undefined) continue;
    for (const p of r.items(item, 'ports')) {
      const host = r.number(p, 'host');
      if (host === undefined) continue;
      const key = `${host}/${r.text(p, 'protocol') ?? 'tcp'}`;
      const owner = owners.get(key);
      if (owner === undefined) owners.set(key, name);
      else if (owner !== name) {
        r.error(p, p.line, `host port ${key} of container "${name}" is already forwarded by container "${owner}": give one of them another host port, e.g. {host: ${host + 1}, container: ${r.number(p, 'container') ?? host}}`);
      }
    }
  }
}

/** The configuration as read, before rejected containers are set apart (./validate.ts). */
export type BuiltConfig = Omit<HostConfig, 'rejectedContainers'>;

/** The typed configuration of a merged document; errors go to `report`. */
export function buildHostConfig(tree: MapNode, report: Report, gunzip: Gunzip): BuiltConfig {
  const r = new Reader(report);
  const coreos = r.map(tree, 'coreos');
  const agent = r.map(tree, 'host_agent');
  const hostname = r.text(tree, 'hostname');
  if (hostname !== undefined && (hostname.length > 64 || !HOSTNAME.test(hostname))) {
    const at = child(tree, 'hostname')!;
    r.error(at.node, at.line, `invalid hostname "${hostname}": it must be one word (no blanks, control characters or "/") of at most 64 characters, e.g. web-1.example.com`);
  }
  const manageEtcHosts = r.text(tree, 'manage_etc_hosts');
  if (manageEtcHosts !== undefined && manageEtcHosts !== 'localhost') {
    const at = child(tree, 'manage_etc_hosts')!;
    r.error(at.node, at.line, `unsupported manage_etc_hosts value "${manageEtcHosts}": only "localhost" is supported`);
  }
  const update = r.map(coreos, 'update');
  const agentUpdate = r.map(agent, 'update');
  const images = r.map(agent, 'images');
  const flannel = r.map(coreos, 'flannel');
  const oem = r.map(coreos, 'oem');
  checkSharedHostPorts(r, r.items(agent, 'containers'));
  return {
    ...optional('hostname', hostname),
    sshAuthorizedKeys: r.strings(tree, 'ssh_authorized_keys') ?? [],
    users: defined(r.items(tree, 'users').map((i) => readUser(r, i))),
    writeFiles: defined(r.items(tree, 'write_files').map((i) => readWriteFile(r, i, gunzip))),
    ...optional('manageEtcHosts', manageEtcHosts === 'localhost' ? 'localhost' as const : undefined),
    units: defined(r.items(coreos, 'units').map((i) => readUnit(r, i))),
    update: {
      ...optional('rebootStrategy', r.text(update, 'reboot_strategy') as RebootStrategy | undefined),
      ...optional('group', r.text(update, 'group')),
      ...optional('server', r.text(update, 'server')),
      ...optional('protocol', r.text(agentUpdate, 'protocol') as UpdateProtocol | undefined),
      ...optional('appId', r.text(agentUpdate, 'app_id')),
    },
    locksmith: readLocksmith(r, r.map(coreos, 'locksmith')),
    flannel: Object.fromEntries(Object.keys(FLANNEL.fields).flatMap((key) => {
      const text = r.text(flannel, key);
      return text === undefined ? [] : [[key, text]];
    })),
    oem: {
      ...optional('id', r.text(oem, 'id')),
      ...optional('name', r.text(oem, 'name')),
      ...optional('versionId', r.text(oem, 'version_id')),
      ...optional('homeUrl', r.text(oem, 'home_url')),
      ...optional('bugReportUrl', r.text(oem, 'bug_report_url')),
    },
    containers: defined(r.items(agent, 'containers').map((i) => readContainer(r, i))),
    images: {
      ...optional('check', r.text(images, 'check')),
      ...optional('window', r.window(r.map(images, 'window'), 'start', 'length')),
    },
    trust: defined(r.items(agent, 'trust').map((i) => readTrust(r, i))),
    networks: defined(r.items(agent, 'networks').map((i) => readNetwork(r, i))),
  };
}
