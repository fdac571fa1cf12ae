/**
 * agentd's own D-Bus service: owns org.hostagent.Agent1, dispatches the methods of the
 * shared table (agent/api/agent1.ts) to handlers, answers introspection, and emits
 * signals. It is the API boundary, where every call is checked before a handler runs:
 *
 * - the signature and the argument (agent/api/arguments.ts): malformed calls get
 *   InvalidArgs with a sentence, and no error reply carries a JavaScript error's text
 *   (an error reply's body: the message, then the AgentError code);
 * - the caller (./callers.ts): root-only methods are refused to others (on top of the bus
 *   policy), and replies to callers who do not read secrets are redacted, as every
 *   broadcast signal is (agent/api/redact.ts);
 * - the load: a caller (uid) has at most READS_PER_CALLER read calls in flight, more get
 *   Busy at once; concurrent calls of an argumentless read share one run of its handler
 *   (1,000 PlanConfig calls observe the host once), unless a change was made meanwhile.
 *   Reads never queue on the runner, so changes do not wait behind them.
 */
import dbus from 'dbus-next';
import {
  AGENT_BUS_NAME, AGENT_ERRORS, AGENT_INTERFACE, AGENT_METHODS, AGENT_OBJECT_PATH, AGENT_SIGNALS, errorNameOf,
  type AgentMethod, type AgentSignal, type MethodSpec,
} from '../../api/agent1.js';
import { argumentProblem } from '../../api/arguments.js';
import { agentIntrospectionXml, parentNodeXml } from '../../api/introspection.js';
import { redactDocument } from '../../api/redact.js';
import { AgentError, describeError } from '../../core/errors.js';
import type { Logger } from '../log/logger.js';
import { DBusCallError, type Bus } from '../systemd/dbus.js';
import { Callers, resolveGroup, type Caller } from './callers.js';

/** One handler per method of the table; arguments and results as D-Bus body arrays. */
export type AgentHandlers = { [M in AgentMethod]: (...args: unknown[]) => Promise<unknown[]> };

export interface AgentServiceOptions {
  /** Its members read container output and environment values too (agentd --read-group). */
  readGroup?: string;
  log?: Pick<Logger, 'error'>;
}

const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
/** Read calls in flight per caller (uid): others, and those who read secrets. */
const READS_PER_CALLER = { unprivileged: 8, privileged: 64 };

/** Errors that mean a bug in the agent: their text is for its log, not for callers. */
const PROGRAMMING_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError];

export class AgentBusService {
  private readonly handler = (msg: dbus.Message): boolean => this.dispatch(msg);
  private readonly inFlight = new Map<number | string, number>();
  private readonly shared = new Map<AgentMethod, { changes: number; result: Promise<unknown[]> }>();
  /** Changes (root-only calls) finished so far: a shared read started before one is not joined. */
  private changes = 0;

  private constructor(
    private readonly bus: Bus,
    private readonly handlers: AgentHandlers,
    private readonly callers: Callers,
    private readonly opts: AgentServiceOptions,
  ) {}

  /** Start answering calls, then take the bus name (Type=dbus readiness follows the name). */
  static async start(bus: Bus, handlers: AgentHandlers, opts: AgentServiceOptions = {}): Promise<AgentBusService> {
    let readGid: number | undefined;
    if (opts.readGroup !== undefined) {
      // A group removed later must not keep the agent from starting: nobody gets its reads.
      readGid = await resolveGroup(opts.readGroup).catch((e: unknown) => {
        opts.log?.error(`${describeError(e)}; only root reads container output`);
        return undefined;
      });
    }
    const callers = new Callers(bus, readGid);
    await callers.start();
    const service = new AgentBusService(bus, handlers, callers, opts);
    bus.addMethodHandler(service.handler);
    const reply = await bus.requestName(AGENT_BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
      bus.removeMethodHandler(service.handler);
      await callers.stop();
      throw new AgentError({
        code: 'bus.name-taken',
        message: `${AGENT_BUS_NAME} is already owned by another process`,
        hint: 'Another agentd is running on this bus; stop it first',
      });
    }
    return service;
  }

  /** Send a signal to every listener, in the form anyone may read. */
  emit(signal: AgentSignal, ...body: unknown[]): void {
    const [json, ...rest] = body;
    const sent = [redactDocument(signal, String(json)), ...rest];
    this.bus.send(dbus.Message.newSignal(AGENT_OBJECT_PATH, AGENT_INTERFACE, signal, AGENT_SIGNALS[signal].signature, sent));
  }

  async stop(): Promise<void> {
    await this.bus.releaseName(AGENT_BUS_NAME).catch(() => undefined);
    this.bus.removeMethodHandler(this.handler);
    await this.callers.stop().catch(() => undefined);
  }

  private reply(msg: dbus.Message, signature: string, body: unknown[]): void {
    this.bus.send(dbus.Message.newMethodReturn(msg, signature, body));
  }

  /** An error reply: the message for people, then the AgentError code when there is one. */
  private fail(msg: dbus.Message, name: string, text: string, code?: string): void {
    // dbus-next's typings declare the first argument as a string; it takes the call message.
    const newError = dbus.Message.newError as unknown as (m: dbus.Message, n: string, t: string) => dbus.Message;
    const reply = newError(msg, name, text);
    if (code !== undefined) {
      reply.signature = 'ss';
      reply.body = [text, code];
    }
    this.bus.send(reply);
  }

  /** The error reply for anything a handler threw. */
  private failWith(msg: dbus.Message, method: string, e: unknown): void {
    if (e instanceof AgentError) {
      this.fail(msg, errorNameOf(e.code), e.describe(), e.code);
    } else if (e instanceof DBusCallError && e.errorName === 'org.freedesktop.systemd1.NoSuchUnit') {
      this.fail(msg, AGENT_ERRORS.notFound, e.message);
    } else if (PROGRAMMING_ERRORS.some((type) => e instanceof type)) {
      this.opts.log?.error(`${method} failed: ${(e as Error).stack ?? describeError(e)}`);
      this.fail(msg, AGENT_ERRORS.failed, `${method} failed inside the agent; the agent's log has the details`);
    } else {
      this.fail(msg, AGENT_ERRORS.failed, describeError(e));
    }
  }

  private dispatch(msg: dbus.Message): boolean {
    try {
      return this.route(msg);
    } catch (e) {
      // Thrown here, dbus-next would reply with the stack.
      this.failWith(msg, msg.member ?? 'the call', e);
      return true;
    }
  }

  private route(msg: dbus.Message): boolean {
    if (msg.interface === 'org.freedesktop.DBus.Introspectable' && msg.member === 'Introspect') {
      const xml = this.introspect(msg.path);
      if (xml === undefined) return false;
      this.reply(msg, 's', [xml]);
      return true;
    }
    if (msg.path !== AGENT_OBJECT_PATH || msg.interface !== AGENT_INTERFACE) return false;
    const spec = (AGENT_METHODS as Record<string, MethodSpec>)[msg.member];
    if (!spec) {
      this.fail(msg, 'org.freedesktop.DBus.Error.UnknownMethod', `no method ${msg.member} in ${AGENT_INTERFACE}`);
      return true;
    }
    if ((msg.signature ?? '') !== spec.in) {
      this.fail(msg, AGENT_ERRORS.invalidArgs, `${msg.member} takes ${spec.in === '' ? 'no arguments' : `"${spec.in}"`}, not "${msg.signature ?? ''}"`, 'agent.bad-request');
      return true;
    }
    const problem = spec.arg && argumentProblem(msg.member, spec.arg, msg.body?.[0]);
    if (problem) {
      this.failWith(msg, msg.member, problem);
      return true;
    }
    void this.invoke(msg, msg.member as AgentMethod, spec).catch((e: unknown) => this.failWith(msg, msg.member as AgentMethod, e));
    return true;
  }

  private async invoke(msg: dbus.Message, method: AgentMethod, spec: MethodSpec): Promise<void> {
    const caller = await this.callers.of(msg.sender);
    if (spec.access === 'root') {
      if (!caller.mayChange) {
        this.fail(msg, ACCESS_DENIED, `${method} is for root only`);
        return;
      }
      try {
        this.reply(msg, spec.out, await this.handlers[method](...(msg.body ?? [])));
      } finally {
        this.changes++;
      }
      return;
    }
    await this.read(msg, method, spec, caller);
  }

  private async read(msg: dbus.Message, method: AgentMethod, spec: MethodSpec, caller: Caller): Promise<void> {
    const key = caller.uid ?? msg.sender;
    const bound = caller.readsSecrets ? READS_PER_CALLER.privileged : READS_PER_CALLER.unprivileged;
    const running = this.inFlight.get(key) ?? 0;
    if (running >= bound) {
      throw new AgentError({
        code: 'agent.busy',
        message: `${method} refused: ${bound} calls of ${caller.uid === undefined ? 'this connection' : `uid ${caller.uid}`} are in flight already`,
        hint: 'Retry once they are answered',
      });
    }
    this.inFlight.set(key, running + 1);
    try {
      const body = await this.sharedRun(method, spec, msg.body ?? []);
      this.reply(msg, spec.out, caller.readsSecrets ? body : [redactDocument(method, String(body[0]))]);
    } finally {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    }
  }

  /** Run the handler, or join the run of the same argumentless read under way since the last change. */
  private sharedRun(method: AgentMethod, spec: MethodSpec, args: unknown[]): Promise<unknown[]> {
    if (spec.in !== '') return this.handlers[method](...args);
    const current = this.shared.get(method);
    if (current && current.changes === this.changes) return current.result;
    const entry = { changes: this.changes, result: this.handlers[method]() };
    this.shared.set(method, entry);
    const forget = (): void => {
      if (this.shared.get(method) === entry) this.shared.delete(method);
    };
    entry.result.then(forget, forget);
    return entry.result;
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
