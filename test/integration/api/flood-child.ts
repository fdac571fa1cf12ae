/**
 * A caller that floods agentd: one connection to the bus of the environment sends COUNT
 * calls of METHOD at once, prints `sent` once they are on their way, then how they ended as JSON
 * ({ outcomes: { "ok" | error name: count }, ms }). Run as another user by the tests.
 * Usage: flood-child.ts METHOD COUNT
 */
import dbus from 'dbus-next';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH } from '../../../agent/api/agent1.js';

const [method = 'PlanConfig', count = '1000'] = process.argv.slice(2);
const bus = dbus.sessionBus({ busAddress: process.env.DBUS_SESSION_BUS_ADDRESS! });
const started = performance.now();
const outcomes: Record<string, number> = {};
const calls = Promise.all(Array.from({ length: Number(count) }, async () => {
  let outcome = 'ok';
  try {
    await bus.call(new dbus.Message({ destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: method }));
  } catch (e) {
    outcome = e instanceof dbus.DBusError ? e.type : String(e);
  }
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}));
process.stdout.write('sent\n');
await calls;
process.stdout.write(`${JSON.stringify({ outcomes, ms: Math.round(performance.now() - started) })}\n`);
bus.disconnect();
