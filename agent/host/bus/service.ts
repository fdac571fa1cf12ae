/**
 * agentd's own D-Bus service: owns org.hostagent.Agent1, dispatches the methods of the
 * shared table (agent/api/agent1.ts) to handlers, answers introspection, checks that
 * callers of root-only methods are root (on top of the bus policy), and emits signals.
 */
import dbus from 'dbus-next';
import {
  AGENT_BUS_NAME, AGENT_ERRORS, AGENT_INTERFACE, AGENT_METHODS, AGENT_OBJECT_PATH, AGENT_SIGNALS,
  type AgentMethod,
} from '../../api/agent1.js';
import { agentIntrospectionXml, parentNodeXml } from '../../api/introspection.js';
import { AgentError, describeError } from '../../core/errors.js';
import { call, type Bus } from '../systemd/dbus.js';

/** One handler per method of the table; arguments and results as D-Bus body arrays. */
export type AgentHandlers = { [M in AgentMethod]: (...args: unknown[]) => Promise<unknown[]> };

const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';

export class AgentBusService {
  private readonly handler = (msg: dbus.Message): boolean => this.dispatch(msg);

  private constructor(private readonly bus: Bus, private readonly handlers: AgentHandlers) {}

  /** Start answering calls, then take the bus name (Type=dbus readiness follows the name). */
  static async start(bus: Bus, handlers: AgentHandlers): Promise<AgentBusService> {
    const service = new AgentBusService(bus, handlers);
    bus.addMethodHandler(service.handler);
    const reply = await bus.requestName(AGENT_BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
      bus.removeMethodHandler(service.handler);
      throw new AgentError({
        code: 'bus.name-taken',
        message: `${AGENT_BUS_NAME} is already owned by another process`,
        hint: 'Another agentd is running on this bus; stop it first',
      });
    }
    return service;
  }

  emit(signal: keyof typeof AGENT_SIGNALS, ...body: unknown[]): void {
    this.bus.send(dbus.Message.newSignal(AGENT_OBJECT_PATH, AGENT_INTERFACE, signal, AGENT_SIGNALS[signal].signature, body));
  }

  async stop(): Promise<void> {
    await this.bus.releaseName(AGENT_BUS_NAME).catch(() => undefined);
    this.bus.removeMethodHandler(this.handler);
  }

  private reply(msg: dbus.Message, signature: string, body: unknown[]): void {
    this.bus.send(dbus.Message.newMethodReturn(msg, signature, body));
  }

  private fail(msg: dbus.Message, name: string, text: string): void {
    // dbus-next's typings declare the first argument as a string; it takes the call message.
    const newError = dbus.Message.newError as unknown as (m: dbus.Message, n: string, t: string) => dbus.Message;
    this.bus.send(newError(msg, name, text));
  }

  private dispatch(msg: dbus.Message): boolean {
    if (msg.interface === 'org.freedesktop.DBus.Introspectable' && msg.member === 'Introspect') {
      const xml = this.introspect(msg.path);
      if (xml === undefined) return false;
      this.reply(msg, 's', [xml]);
      return true;
    }
    if (msg.path !== AGENT_OBJECT_PATH || msg.interface !== AGENT_INTERFACE) return false;
    const spec = (AGENT_METHODS as Record<string, (typeof AGENT_METHODS)[AgentMethod]>)[msg.member];
    if (!spec) {
      this.fail(msg, 'org.freedesktop.DBus.Error.UnknownMethod', `no method ${msg.member} in ${AGENT_INTERFACE}`);
      return true;
    }
    if ((msg.signature ?? '') !== spec.in) {
      this.fail(msg, 'org.freedesktop.DBus.Error.InvalidArgs', `${msg.member} takes "${spec.in}", got "${msg.signature}"`);
      return true;
    }
    void this.invoke(msg, msg.member as AgentMethod, spec.access === 'root');
    return true;
  }

  private async invoke(msg: dbus.Message, method: AgentMethod, rootOnly: boolean): Promise<void> {
    try {
      if (rootOnly && !(await this.callerMayChange(msg.sender))) {
        this.fail(msg, ACCESS_DENIED, `${method} is for root only`);
        return;
      }
      const body = await this.handlers[method](...(msg.body ?? []));
      this.reply(msg, AGENT_METHODS[method].out, body);
    } catch (e) {
      const name = e instanceof AgentError && e.code === 'agent.shutting-down' ? AGENT_ERRORS.shuttingDown : AGENT_ERRORS.failed;
      this.fail(msg, name, describeError(e));
    }
  }

  /** Root, or the agent's own user (a user-session agent manages its own manager). */
  private async callerMayChange(sender: string): Promise<boolean> {
    const [uid] = await call(this.bus, {
      destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
      member: 'GetConnectionUnixUser', signature: 's', body: [sender],
    });
    return uid === 0 || uid === process.getuid?.();
  }

  private introspect(path: string): string | undefined {
    if (path === AGENT_OBJECT_PATH) return agentIntrospectionXml();
    const parts = AGENT_OBJECT_PATH.split('/').filter(Boolean);
    for (let depth = 0; depth < parts.length; depth++) {
      const parent = '/' + parts.slice(0, depth).join('/');
      if (path === parent) return parentNodeXml(parts[depth]!);
    }
    return undefined;
  }
}
