/**
 * The `app` section shared by image and pod manifests: exec, user and group, supplementary
 * GIDs, working directory, event handlers, environment, mount points, ports and isolators,
 * checked in the reference's order (fields as decoded, then the app as a whole) and with
 * its messages. Pure: no I/O.
 */

import { readAcName } from './names.js';
import { checkIsolatorSet, readIsolator, type Isolator } from './isolators.js';
import {
  at,
  invalid,
  quote,
  readArray,
  readBool,
  readFields,
  readInt,
  readObject,
  readString,
  readStringArray,
  readStringMap,
} from './json.js';

export type EventHandlerName = 'pre-start' | 'post-stop';

export interface EventHandler {
  name: EventHandlerName;
  exec: string[];
}

export interface EnvironmentVariable {
  name: string;
  value: string;
}

export interface MountPoint {
  name: string;
  path: string;
  readOnly: boolean;
}

export interface Port {
  name: string;
  protocol: string;
  port: number;
  /** How many consecutive ports from `port`; 1 when the manifest leaves it out. */
  count: number;
  socketActivated: boolean;
}

export interface App {
  exec: string[];
  eventHandlers: EventHandler[];
  user: string;
  group: string;
  supplementaryGIDs: number[];
  workingDirectory: string;
  environment: EnvironmentVariable[];
  mountPoints: MountPoint[];
  ports: Port[];
  isolators: Isolator[];
  userAnnotations: Record<string, string>;
  userLabels: Record<string, string>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z_0-9.-]*$/;

function readEventHandler(value: unknown, path: string): EventHandler {
  let name = '';
  let exec: string[] = [];
  readFields(value, path, {
    name: (v, p) => {
      name = readString(v, p);
    },
    exec: (v, p) => {
      exec = readStringArray(v, p);
    },
  });
  if (name === '') invalid(at(path, 'name'), 'eventHandler "name" cannot be empty');
  if (name !== 'pre-start' && name !== 'post-stop') invalid(at(path, 'name'), `bad eventHandler "name": ${quote(name)}`);
  return { name, exec };
}

function readEnvironment(value: unknown, path: string): EnvironmentVariable[] {
  const vars = readArray(value, path, (item, p) => {
    const o = readObject(item, p);
    return { name: readString(o.name, at(p, 'name')), value: readString(o.value, at(p, 'value')) };
  });
  const seen = new Set<string>();
  vars.forEach((env, i) => {
    const where = at(at(path, i), 'name');
    if (env.name === '') invalid(where, 'environment variable name must not be empty');
    if (!ENV_NAME.test(env.name)) invalid(where, `environment variable does not have valid identifier ${quote(env.name)}`);
    if (seen.has(env.name)) invalid(where, `duplicate environment variable of name ${quote(env.name)}`);
    seen.add(env.name);
  });
  return vars;
}

function readMountPoint(value: unknown, path: string): MountPoint {
  const mount: MountPoint = { name: '', path: '', readOnly: false };
  readFields(value, path, {
    name: (v, p) => {
      mount.name = readAcName(v, p);
    },
    path: (v, p) => {
      mount.path = readString(v, p);
    },
    readOnly: (v, p) => {
      mount.readOnly = readBool(v, p);
    },
  });
  if (mount.name === '') invalid(at(path, 'name'), 'name must be set');
  if (mount.path === '') invalid(at(path, 'path'), 'path must be set');
  return mount;
}

/** Reads a port (also a pod's exposed `podPort`); `count` defaults to 1. */
export function readPort(value: unknown, path: string): Port {
  const port: Port = { name: '', protocol: '', port: 0, count: 0, socketActivated: false };
  readFields(value, path, {
    name: (v, p) => {
      port.name = readAcName(v, p);
    },
    protocol: (v, p) => {
      port.protocol = readString(v, p);
    },
    port: (v, p) => {
      port.port = readInt(v, p, true);
    },
    count: (v, p) => {
      port.count = readInt(v, p, true);
    },
    socketActivated: (v, p) => {
      port.socketActivated = readBool(v, p);
    },
  });
  if (port.port < 1 || port.port > 65535) invalid(at(path, 'port'), 'port must be in 1-65535 range');
  if (port.port + port.count > 65536) invalid(at(path, 'count'), 'end of port range must be in 1-65535 range');
  return { ...port, count: port.count === 0 ? 1 : port.count };
}

/** Reads and checks an app section. */
export function readApp(value: unknown, path: string): App {
  const app: App = {
    exec: [],
    eventHandlers: [],
    user: '',
    group: '',
    supplementaryGIDs: [],
    workingDirectory: '',
    environment: [],
    mountPoints: [],
    ports: [],
    isolators: [],
    userAnnotations: {},
    userLabels: {},
  };
  readFields(value, path, {
    exec: (v, p) => {
      app.exec = readStringArray(v, p);
    },
    eventHandlers: (v, p) => {
      app.eventHandlers = readArray(v, p, readEventHandler);
    },
    user: (v, p) => {
      app.user = readString(v, p);
    },
    group: (v, p) => {
      app.group = readString(v, p);
    },
    supplementaryGIDs: (v, p) => {
      app.supplementaryGIDs = readArray(v, p, (g, gp) => readInt(g, gp, true));
    },
    workingDirectory: (v, p) => {
      app.workingDirectory = readString(v, p);
    },
    environment: (v, p) => {
      app.environment = readEnvironment(v, p);
    },
    mountPoints: (v, p) => {
      app.mountPoints = readArray(v, p, readMountPoint);
    },
    ports: (v, p) => {
      app.ports = readArray(v, p, readPort);
    },
    isolators: (v, p) => {
      app.isolators = readArray(v, p, readIsolator);
    },
    userAnnotations: (v, p) => {
      app.userAnnotations = readStringMap(v, p);
    },
    userLabels: (v, p) => {
      app.userLabels = readStringMap(v, p);
    },
  });
  if (app.user === '') invalid(at(path, 'user'), 'user is required');
  if (app.group === '') invalid(at(path, 'group'), 'group is required');
  if (app.workingDirectory !== '' && !app.workingDirectory.startsWith('/')) {
    invalid(at(path, 'workingDirectory'), 'workingDirectory must be an absolute path');
  }
  const handlers = new Set<string>();
  app.eventHandlers.forEach((handler, i) => {
    if (handlers.has(handler.name)) {
      invalid(at(at(path, 'eventHandlers'), i), `Only one eventHandler of name ${quote(handler.name)} allowed`);
    }
    handlers.add(handler.name);
  });
  checkIsolatorSet(app.isolators, at(path, 'isolators'));
  return app;
}
