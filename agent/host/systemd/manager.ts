/**
 * Typed client for org.freedesktop.systemd1 over dbus-next: units and their properties,
 * jobs whose result is taken from JobRemoved, daemon reload, enable/disable/mask, and
 * PropertiesChanged notifications. Works on the system bus or a user manager's session bus.
 */
import dbus from 'dbus-next';
import { AgentError } from '../../core/errors.js';
import type { BusKind, UnitStatus } from '../../api/agent1.js';
import type { MethodCall } from '../../api/method-call.js';
import { addMatch, call, connectBus, toNumber, unwrap, type Bus } from './dbus.js';
import { systemdError } from './errors.js';
import { JobTracker, type JobResult } from './jobs.js';

const DEST = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
const PROPS_IFACE = 'org.freedesktop.DBus.Properties';

/** What toUnitStatus reads, per interface. */
const UNIT_PROPERTIES = ['Description', 'LoadState', 'ActiveState', 'SubState', 'ActiveEnterTimestamp'] as const;
const SERVICE_PROPERTIES = ['MainPID', 'NRestarts', 'ExecMainStatus'] as const;

export type JobVerb = 'start' | 'stop' | 'restart' | 'reload' | 'try-restart' | 'reload-or-restart' | 'reload-or-try-restart';

const JOB_METHODS: Record<JobVerb, string> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
  'try-restart': 'TryRestartUnit',
  'reload-or-restart': 'ReloadOrRestartUnit',
  'reload-or-try-restart': 'ReloadOrTryRestartUnit',
};

export interface ListedUnit {
  name: string;
  description: string;
  loadState: string;
  activeState: string;
  subState: string;
  path: string;
}

export interface UnitFileChange {
  type: string;
  file: string;
  destination: string;
}

/** A property of a transient unit: name, D-Bus signature, value (StartTransientUnit). */
export type TransientProperty = [name: string, signature: string, value: unknown];

export type UnitPropertiesListener = (unit: string, changed: Record<string, unknown>) => void;

export class SystemdManager {
  private readonly jobs: JobTracker;
  private closed = false;

  private constructor(readonly bus: Bus, readonly kind: BusKind) {
    this.jobs = new JobTracker(bus);
  }

  /** Connect, subscribe to the manager's signals and check that systemd answers. */
  static async connect(kind: BusKind, env: NodeJS.ProcessEnv = process.env): Promise<SystemdManager> {
    let bus: Bus;
    try {
      bus = await connectBus(kind, env);
    } catch (e) {
      throw new AgentError({
        code: 'systemd.bus-unreachable',
        message: `cannot connect to the ${kind} bus: ${e instanceof Error ? e.message : String(e)}`,
        hint: kind === 'session' ? 'Start the sandbox (scripts/sandbox up DIR) and source its environment' : 'Is dbus running?',
        cause: e,
      });
    }
    const manager = new SystemdManager(bus, kind);
    try {
      await addMatch(bus, `type='signal',sender='${DEST}',interface='${MANAGER_IFACE}'`);
      await addMatch(bus, `type='signal',sender='${DEST}',interface='${PROPS_IFACE}',member='PropertiesChanged'`);
      await manager.managerCall('Subscribe');
    } catch (e) {
      bus.disconnect();
      throw systemdError(e, 'subscribe to its signals (is systemd running on this bus?)');
    }
    bus.on('error', () => manager.jobs.abandon());
    return manager;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.jobs.abandon();
    this.bus.disconnect();
  }

  private managerCall(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return call(this.bus, { destination: DEST, path: MANAGER_PATH, interface: MANAGER_IFACE, member, signature, body });
  }

  /**
   * The named properties of one interface, read together (one Get each, sent at once):
   * GetAll of the Unit and Service interfaces returns hundreds of properties (about 20 kB
   * as JSON, some of which systemd reads from the cgroup) of which toUnitStatus uses eight.
   */
  private async getSome(path: string, iface: string, names: readonly string[]): Promise<Record<string, unknown>> {
    const values = await Promise.all(names.map(async (name) => {
      const spec: MethodCall = { destination: DEST, path, interface: PROPS_IFACE, member: 'Get', signature: 'ss', body: [iface, name] };
      const [value] = await call(this.bus, spec);
      return [name, unwrap(value)] as const;
    }));
    return Object.fromEntries(values);
  }

  async version(): Promise<string> {
    try {
      const [v] = await call(this.bus, {
        destination: DEST, path: MANAGER_PATH, interface: PROPS_IFACE, member: 'Get', signature: 'ss', body: [MANAGER_IFACE, 'Version'],
      });
      return String(unwrap(v));
    } catch (e) {
      throw systemdError(e, 'report its version');
    }
  }

  /** Units loaded in the manager, optionally filtered by glob patterns. */
  async listUnits(patterns: string[] = []): Promise<ListedUnit[]> {
    try {
      const [rows] = await this.managerCall('ListUnitsByPatterns', 'asas', [[], patterns]);
      return (rows as unknown[][]).map((r) => {
        const unit: ListedUnit = {
          name: r[0] as string, description: r[1] as string, loadState: r[2] as string,
          activeState: r[3] as string, subState: r[4] as string, path: r[6] as string,
        };
        return unit;
      });
    } catch (e) {
      throw systemdError(e, 'list units');
    }
  }

  /** The unit's object path, loading the unit if needed. */
  async unitPath(name: string): Promise<string> {
    try {
      const [path] = await this.managerCall('LoadUnit', 's', [name]);
      return path as string;
    } catch (e) {
      throw systemdError(e, `load ${name}`, name);
    }
  }

  async unitStatus(name: string): Promise<UnitStatus> {
    const path = await this.unitPath(name);
    try {
      const [unit, service] = await Promise.all([
        this.getSome(path, UNIT_IFACE, UNIT_PROPERTIES),
        name.endsWith('.service') ? this.getSome(path, SERVICE_IFACE, SERVICE_PROPERTIES) : {},
      ]);
      return toUnitStatus(name, unit, service);
    } catch (e) {
      throw systemdError(e, `read the state of ${name}`, name);
    }
  }

  /** Run a job on a unit and wait for its result from JobRemoved; throws unless it is `done`. */
  async runJob(verb: JobVerb, name: string, mode = 'replace'): Promise<void> {
    let job: string;
    try {
      [job] = (await this.managerCall(JOB_METHODS[verb], 'ss', [name, mode])) as [string];
    } catch (e) {
      throw systemdError(e, `${verb} ${name}`, name);
    }
    const result = await this.jobs.wait(job);
    if (result !== 'done') throw await this.jobFailure(verb, name, result);
  }

  start(name: string): Promise<void> { return this.runJob('start', name); }
  stop(name: string): Promise<void> { return this.runJob('stop', name); }
  restart(name: string): Promise<void> { return this.runJob('restart', name); }
  reload(name: string): Promise<void> { return this.runJob('reload', name); }

  private async jobFailure(verb: JobVerb, name: string, result: JobResult): Promise<AgentError> {
    const status = await this.unitStatus(name).catch(() => undefined);
    const state = status ? `${status.activeState} (${status.subState})` : 'unknown';
    const exit = status && status.execMainStatus !== 0 ? `, main process exited with status ${status.execMainStatus}` : '';
    return new AgentError({
      code: `systemd.job-${result}`,
      message: `${verb} of ${name} finished with result "${result}"; the unit is ${state}${exit}`,
      subject: name,
      hint: this.kind === 'system'
        ? `See journalctl -u ${name} and systemctl status ${name}`
        : `See systemctl --user status ${name}`,
    });
  }

  /** systemctl reset-failed UNIT: forget a failed state (and the unit, once it is unneeded). */
  async resetFailed(name: string): Promise<void> {
    try {
      await this.managerCall('ResetFailedUnit', 's', [name]);
    } catch (e) {
      const err = systemdError(e, `reset the failed state of ${name}`, name);
      if (err.code !== 'systemd.no-such-unit') throw err;
    }
  }

  /**
   * Create and start a transient unit (systemd-run), and wait for its start job; throws
   * unless the job is `done`. The unit has no file: it is gone once it stopped.
   */
  async startTransient(name: string, properties: TransientProperty[]): Promise<void> {
    const props = properties.map(([key, signature, value]) => [key, new dbus.Variant(signature, value)]);
    let job: string;
    try {
      [job] = (await this.managerCall('StartTransientUnit', 'ssa(sv)a(sa(sv))', [name, 'fail', props, []])) as [string];
    } catch (e) {
      throw systemdError(e, `start ${name}`, name);
    }
    const result = await this.jobs.wait(job);
    if (result !== 'done') throw await this.jobFailure('start', name, result);
  }

  /** The unit file state (enabled, disabled, static, masked…), '' when there is no unit file. */
  async unitFileState(name: string): Promise<string> {
    try {
      const [state] = await this.managerCall('GetUnitFileState', 's', [name]);
      return String(state);
    } catch (e) {
      const err = systemdError(e, `read the unit file state of ${name}`, name);
      if (err.code === 'systemd.no-such-unit' || err.code === 'systemd.call-failed') return '';
      throw err;
    }
  }

  /** systemctl daemon-reload: re-read every unit file. */
  async daemonReload(): Promise<void> {
    try {
      await this.managerCall('Reload');
    } catch (e) {
      throw systemdError(e, 'reload its unit files');
    }
  }

  enable(files: string[], runtime = false): Promise<UnitFileChange[]> {
    return this.unitFileCall('enable', 'EnableUnitFiles', files, [runtime, true]);
  }

  disable(files: string[], runtime = false): Promise<UnitFileChange[]> {
    return this.unitFileCall('disable', 'DisableUnitFiles', files, [runtime]);
  }

  mask(files: string[], runtime = false): Promise<UnitFileChange[]> {
    return this.unitFileCall('mask', 'MaskUnitFiles', files, [runtime, true]);
  }

  unmask(files: string[], runtime = false): Promise<UnitFileChange[]> {
    return this.unitFileCall('unmask', 'UnmaskUnitFiles', files, [runtime]);
  }

  /** The unit-file methods take the files and booleans (runtime[, force]) and return the
   *  changes, after a carries_install_info flag for EnableUnitFiles. */
  private async unitFileCall(action: string, member: string, files: string[], flags: boolean[]): Promise<UnitFileChange[]> {
    try {
      const reply = await this.managerCall(member, 'as' + 'b'.repeat(flags.length), [files, ...flags]);
      return toChanges(reply[reply.length - 1]);
    } catch (e) {
      throw systemdError(e, `${action} ${files.join(' ')}`, files.join(' '));
    }
  }

  /** Called with the unit name and the changed properties of any unit systemd reports. */
  onUnitPropertiesChanged(listener: UnitPropertiesListener): () => void {
    const handler = (msg: { type: number; interface: string; member: string; path: string; body: unknown[] }): void => {
      if (msg.member !== 'PropertiesChanged' || msg.interface !== PROPS_IFACE) return;
      const name = unitNameFromPath(msg.path);
      if (name === undefined) return;
      const changed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(msg.body[1] as Record<string, unknown>)) changed[k] = unwrap(v);
      listener(name, changed);
    };
    this.bus.on('message', handler);
    return () => this.bus.removeListener('message', handler);
  }

  /** Called after every daemon reload finished (the Reloading signal with false). */
  onReloaded(listener: () => void): () => void {
    const handler = (msg: { interface: string; member: string; body: unknown[] }): void => {
      if (msg.interface === MANAGER_IFACE && msg.member === 'Reloading' && msg.body[0] === false) listener();
    };
    this.bus.on('message', handler);
    return () => this.bus.removeListener('message', handler);
  }

  /** Called once if the bus connection is lost. */
  onDisconnect(listener: (error: Error) => void): void {
    this.bus.once('error', (e: unknown) => listener(e instanceof Error ? e : new Error(String(e))));
  }
}

const UNIT_PATH_PREFIX = '/org/freedesktop/systemd1/unit/';

/** Undo systemd's object path escaping: "/org/…/unit/web_2eservice" → "web.service". */
export function unitNameFromPath(path: string): string | undefined {
  if (!path.startsWith(UNIT_PATH_PREFIX)) return undefined;
  return path.slice(UNIT_PATH_PREFIX.length).replace(/_([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function toChanges(raw: unknown): UnitFileChange[] {
  return (raw as string[][]).map(([type, file, destination]) => ({ type: type!, file: file!, destination: destination! }));
}

/**
 * `status` with the values a PropertiesChanged signal of its unit carried (Unit or Service
 * interface; toUnitStatus's fields), so a known unit need not be read back.
 */
export function withChangedProperties(status: UnitStatus, changed: Record<string, unknown>): UnitStatus {
  const next = { ...status };
  const text = (key: string): string | undefined => (typeof changed[key] === 'string' ? changed[key] as string : undefined);
  const num = (key: string): number | undefined => (key in changed ? toNumber(changed[key]) : undefined);
  next.description = text('Description') ?? next.description;
  next.loadState = text('LoadState') ?? next.loadState;
  next.activeState = text('ActiveState') ?? next.activeState;
  next.subState = text('SubState') ?? next.subState;
  next.mainPid = num('MainPID') ?? next.mainPid;
  next.nRestarts = num('NRestarts') ?? next.nRestarts;
  next.execMainStatus = num('ExecMainStatus') ?? next.execMainStatus;
  const since = num('ActiveEnterTimestamp');
  if (since !== undefined) {
    delete next.activeSince;
    if (since > 0) next.activeSince = new Date(since / 1000).toISOString();
  }
  return next;
}

function toUnitStatus(name: string, unit: Record<string, unknown>, service: Record<string, unknown>): UnitStatus {
  const since = toNumber(unit.ActiveEnterTimestamp);
  return {
    name,
    description: String(unit.Description ?? ''),
    loadState: String(unit.LoadState ?? ''),
    activeState: String(unit.ActiveState ?? ''),
    subState: String(unit.SubState ?? ''),
    mainPid: toNumber(service.MainPID),
    nRestarts: toNumber(service.NRestarts),
    execMainStatus: toNumber(service.ExecMainStatus),
    ...(since > 0 && { activeSince: new Date(since / 1000).toISOString() }),
  };
}
