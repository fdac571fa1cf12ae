/**
 * The PodManifest (appc spec 0.8.11): apps with their images, mounts and annotations,
 * volumes (`host` and `empty`, with the spec's defaults for empty volumes), pod isolators,
 * annotations and exposed ports; checked in the reference's order with its messages.
 * Pure: no I/O.
 */

import { readAnnotations, type Annotation } from './annotations.js';
import { readApp, readPort, type App, type Port } from './app.js';
import { readHash } from './hash.js';
import { checkHeader, readAcKind, readAcVersion } from './header.js';
import { isIpAddress } from './ip.js';
import { readIsolator, type Isolator } from './isolators.js';
import { readLabels, type Label } from './labels.js';
import { acNameProblem, readAcIdentifier, readAcName } from './names.js';
import { at, invalid, quote, readArray, readBool, readFields, readInt, readString, readStringMap } from './json.js';

export interface RuntimeImage {
  name?: string;
  id?: string;
  labels: Label[];
}

export interface Volume {
  name: string;
  kind: 'host' | 'empty';
  source?: string;
  readOnly?: boolean;
  recursive?: boolean;
  /** Empty volumes only: octal mode (default "0755"), owner uid and gid (default 0). */
  mode?: string;
  uid?: number;
  gid?: number;
}

export interface Mount {
  volume: string;
  path: string;
  appVolume?: Volume;
}

export interface RuntimeApp {
  name: string;
  image: RuntimeImage;
  app?: App;
  readOnlyRootFS: boolean;
  mounts: Mount[];
  annotations: Annotation[];
}

export interface ExposedPort {
  name: string;
  hostPort: number;
  hostIP?: string;
  podPort?: Port;
}

export interface PodManifest {
  acKind: 'PodManifest';
  acVersion: string;
  apps: RuntimeApp[];
  volumes: Volume[];
  isolators: Isolator[];
  annotations: Annotation[];
  ports: ExposedPort[];
  userAnnotations: Record<string, string>;
  userLabels: Record<string, string>;
}

function readRuntimeImage(value: unknown, path: string): RuntimeImage {
  const image: RuntimeImage = { labels: [] };
  readFields(value, path, {
    name: (v, p) => {
      image.name = readAcIdentifier(v, p);
    },
    id: (v, p) => {
      image.id = readHash(v, p);
    },
    labels: (v, p) => {
      image.labels = readLabels(v, p);
    },
  });
  return image;
}

/** Reads a volume, filling the defaults of empty volumes before checking it. */
function readVolume(value: unknown, path: string): Volume {
  let kind = '';
  const v: Omit<Volume, 'kind'> = { name: '' };
  readFields(value, path, {
    name: (x, p) => {
      v.name = readAcName(x, p);
    },
    kind: (x, p) => {
      kind = readString(x, p);
    },
    source: (x, p) => {
      v.source = readString(x, p);
    },
    readOnly: (x, p) => {
      v.readOnly = readBool(x, p);
    },
    recursive: (x, p) => {
      v.recursive = readBool(x, p);
    },
    mode: (x, p) => {
      v.mode = readString(x, p);
    },
    uid: (x, p) => {
      v.uid = readInt(x, p);
    },
    gid: (x, p) => {
      v.gid = readInt(x, p);
    },
  });
  const f = (field: string, message: string): never => invalid(at(path, field), message);
  if (v.name === '') f('name', 'name must be set');
  const source = v.source ?? '';
  if (kind === 'empty') {
    if (source !== '') f('source', 'source for empty volume must be empty');
    return { ...v, kind, mode: v.mode ?? '0755', uid: v.uid ?? 0, gid: v.gid ?? 0 };
  }
  if (kind !== 'host') f('kind', 'unrecognized volume kind: should be one of "empty", "host"');
  if (source === '') f('source', 'source for host volume cannot be empty');
  if (v.mode !== undefined) f('mode', 'mode for host volume cannot be set');
  if (v.uid !== undefined) f('uid', 'uid for host volume cannot be set');
  if (v.gid !== undefined) f('gid', 'gid for host volume cannot be set');
  if (!source.startsWith('/')) f('source', 'source for host volume must be absolute path');
  return { ...v, kind: 'host' };
}

function readMount(value: unknown, path: string): Mount {
  const mount: Mount = { volume: '', path: '' };
  readFields(value, path, {
    volume: (v, p) => {
      mount.volume = readAcName(v, p);
    },
    path: (v, p) => {
      mount.path = readString(v, p);
    },
    appVolume: (v, p) => {
      mount.appVolume = readVolume(v, p);
    },
  });
  if (mount.volume === '') invalid(at(path, 'volume'), 'volume must be set');
  if (mount.path === '') invalid(at(path, 'path'), 'path must be set');
  return mount;
}

function readRuntimeApp(value: unknown, path: string): RuntimeApp {
  const app: RuntimeApp = { name: '', image: { labels: [] }, readOnlyRootFS: false, mounts: [], annotations: [] };
  readFields(value, path, {
    name: (v, p) => {
      app.name = readAcName(v, p);
    },
    image: (v, p) => {
      app.image = readRuntimeImage(v, p);
    },
    app: (v, p) => {
      app.app = readApp(v, p);
    },
    readOnlyRootFS: (v, p) => {
      app.readOnlyRootFS = readBool(v, p);
    },
    mounts: (v, p) => {
      app.mounts = readArray(v, p, readMount);
    },
    annotations: (v, p) => {
      app.annotations = readAnnotations(v, p);
    },
  });
  if (app.name === '') invalid(at(path, 'name'), acNameProblem('') as string);
  return app;
}

function readExposedPort(value: unknown, path: string): ExposedPort {
  const port: ExposedPort = { name: '', hostPort: 0 };
  readFields(value, path, {
    name: (v, p) => {
      port.name = readAcName(v, p);
    },
    hostPort: (v, p) => {
      port.hostPort = readInt(v, p, true);
    },
    hostIP: (v, p) => {
      const ip = readString(v, p);
      if (ip !== '' && !isIpAddress(ip)) invalid(p, `invalid IP address: ${ip}`);
      port.hostIP = ip;
    },
    podPort: (v, p) => {
      port.podPort = readPort(v, p);
    },
  });
  return port;
}

/** Reports the first repeated `key` of `items`, with `message` given the repeated value. */
function checkUnique<T>(items: readonly T[], path: string, key: keyof T & string, message: (v: string) => string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const v = String(item[key]);
    if (seen.has(v)) invalid(at(at(path, i), key), message(v));
    seen.add(v);
  });
}

/**
 * Checks a parsed PodManifest (reified or a template) and returns it typed. Throws
 * AgentError `appc.invalid-manifest` with the offending field's path as subject.
 */
export function validatePodManifest(json: unknown): PodManifest {
  let kind = '';
  const m: PodManifest = {
    acKind: 'PodManifest',
    acVersion: '',
    apps: [],
    volumes: [],
    isolators: [],
    annotations: [],
    ports: [],
    userAnnotations: {},
    userLabels: {},
  };
  readFields(json, '', {
    acVersion: (v, p) => {
      m.acVersion = readAcVersion(v, p);
    },
    acKind: (v, p) => {
      kind = readAcKind(v, p);
    },
    apps: (v, p) => {
      m.apps = readArray(v, p, readRuntimeApp);
      checkUnique(m.apps, p, 'name', (n) => `duplicate apps of name ${quote(n)}`);
    },
    volumes: (v, p) => {
      m.volumes = readArray(v, p, readVolume);
    },
    isolators: (v, p) => {
      m.isolators = readArray(v, p, readIsolator);
    },
    annotations: (v, p) => {
      m.annotations = readAnnotations(v, p);
    },
    ports: (v, p) => {
      m.ports = readArray(v, p, readExposedPort);
    },
    userAnnotations: (v, p) => {
      m.userAnnotations = readStringMap(v, p);
    },
    userLabels: (v, p) => {
      m.userLabels = readStringMap(v, p);
    },
  });
  checkHeader(kind, m.acVersion, 'PodManifest');
  checkUnique(m.volumes, 'volumes', 'name', (n) => `duplicate volume name ${quote(n)}`);
  return m;
}
