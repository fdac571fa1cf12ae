/**
 * A one-shot D-Bus method caller for agentctl: connect, authenticate (EXTERNAL), Hello,
 * one call, close. No introspection and no dependency, so `agentctl status` costs little
 * more than node's own start. A call may also subscribe to signals for its duration (one
 * match rule, e.g. progress of a long call); long-lived connections belong to dbus-next.
 */
import { createConnection, type Socket } from 'node:net';
import type { BusKind } from '../../api/agent1.js';
import type { MethodCall } from '../../api/method-call.js';
import { AgentError } from '../../core/errors.js';
import { busAddress, unixSocketPaths } from './address.js';
import { marshalCall, messageLength, unmarshalMessage, MessageType, type ReceivedMessage } from './wire.js';

export interface CallOptions extends MethodCall {
  bus: BusKind;
  /** Without a reply for this long, the call fails; with `signals`, each signal restarts it. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Signals to receive while the call runs: an AddMatch rule is sent before the call. */
  signals?: {
    match: string;
    onSignal: (msg: ReceivedMessage) => void;
  };
}

/** An error reply from the bus or the called service. */
export class BusErrorReply extends Error {
  /** agentd's error replies carry the AgentError code after the message. */
  constructor(readonly errorName: string, message: string, readonly code?: string) {
    super(message);
    this.name = 'BusErrorReply';
  }
}

function connectFirst(paths: string[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (i: number, lastError?: Error): void => {
      const path = paths[i];
      if (path === undefined) {
        reject(lastError ?? new Error('no unix socket in the bus address'));
        return;
      }
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (e) => attempt(i + 1, e));
    };
    attempt(0);
  });
}

/** Call one method and return the reply body. */
export async function callMethod(opts: CallOptions): Promise<unknown[]> {
  const address = busAddress(opts.bus, opts.env);
  let socket: Socket;
  try {
    socket = await connectFirst(unixSocketPaths(address));
  } catch (e) {
    throw new AgentError({
      code: 'bus.unreachable',
      message: `cannot connect to the ${opts.bus} bus at ${address}: ${(e as Error).message}`,
      hint: opts.bus === 'session'
        ? 'Is the sandbox running? Start it with scripts/demo'
        : 'Is dbus running on this host?',
      cause: e,
    });
  }

  return new Promise<unknown[]>((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 25_000;
    const expire = (): void => {
      finish(new AgentError({
        code: 'bus.timeout',
        message: `no reply to ${opts.member} from ${opts.destination} within ${timeoutMs} ms`,
        hint: 'The agent may be busy or stuck; see its log (journalctl -u host-agent)',
      }));
    };
    let timer = setTimeout(expire, timeoutMs);
    let buffered = Buffer.alloc(0);
    let authenticated = false;
    const CALL_SERIAL = opts.signals ? 3 : 2;
    let done = false;

    const finish = (error?: Error, body?: unknown[]): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(body ?? []);
    };

    const onMessage = (msg: ReceivedMessage): void => {
      if (msg.type === MessageType.Signal && opts.signals) {
        clearTimeout(timer);
        timer = setTimeout(expire, timeoutMs);
        opts.signals.onSignal(msg);
        return;
      }
      if (msg.replySerial === undefined) return;
      if (msg.type === MessageType.Error) {
        const text = typeof msg.body[0] === 'string' ? msg.body[0] : msg.errorName ?? 'error';
        const code = typeof msg.body[1] === 'string' ? msg.body[1] : undefined;
        finish(new BusErrorReply(msg.errorName ?? 'org.freedesktop.DBus.Error.Failed', text, code));
      } else if (msg.replySerial === CALL_SERIAL && msg.type === MessageType.MethodReturn) {
        finish(undefined, msg.body);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!authenticated) {
        const eol = buffered.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffered.subarray(0, eol).toString('ascii');
        buffered = buffered.subarray(eol + 2);
        if (!line.startsWith('OK ')) {
          finish(new AgentError({ code: 'bus.auth-failed', message: `the ${opts.bus} bus refused authentication: ${line}` }));
          return;
        }
        authenticated = true;
        socket.write('BEGIN\r\n');
        socket.write(marshalCall({
          serial: 1, destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus', member: 'Hello',
        }));
        if (opts.signals) {
          socket.write(marshalCall({
            serial: 2, destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus',
            interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [opts.signals.match],
          }));
        }
        socket.write(marshalCall({
          serial: CALL_SERIAL, destination: opts.destination, path: opts.path, interface: opts.interface,
          member: opts.member, ...(opts.signature !== undefined && { signature: opts.signature }),
          ...(opts.body !== undefined && { body: opts.body }),
        }));
      }
      for (let len = messageLength(buffered); len !== undefined; len = messageLength(buffered)) {
        const msg = unmarshalMessage(buffered.subarray(0, len));
        buffered = buffered.subarray(len);
        onMessage(msg);
      }
    });
    socket.on('error', (e) => finish(new AgentError({ code: 'bus.io', message: `${opts.bus} bus connection failed: ${e.message}`, cause: e })));
    socket.on('close', () => finish(new AgentError({ code: 'bus.closed', message: `the ${opts.bus} bus closed the connection` })));

    const uid = String(process.getuid?.() ?? 0);
    socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid, 'ascii').toString('hex')}\r\n`);
  });
}
