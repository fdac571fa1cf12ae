/**
 * A caller that floods agentd: CONNECTIONS connections to the bus of the environment send
 * COUNT calls of METHOD at once (spread over them), print `sent` once they are on their
 * way, then how they ended as JSON ({ outcomes: { "ok" | error name: count }, ms }). Run
 * as another user by the tests.
 * Usage: flood-child.ts METHOD COUNT [CONNECTIONS]
 */
import dbus from 'dbus-next';
import { AGENT_BUS_NAME, AGENT_INTERFACE, AGENT_OBJECT_PATH } from '../../../agent/api/agent1.js';
import { connectBus } from '../../../agent/host/systemd/dbus.js';

const [method = 'PlanConfig', count = '1000', connections = '1'] = process.argv.slice(2);
const buses = await Promise.all(Array.from({ length: Number(connections) }, () => connectBus('session')));
const started = performance.now();
const outcomes: Record<string, number> = {};
const calls = Promise.all(Array.from({ length: Number(count) }, async (_, i) => {
  let outcome = 'ok';
  try {
    await buses[i % buses.length]!.call(new dbus.Message({ destination: AGENT_BUS_NAME, path: AGENT_OBJECT_PATH, interface: AGENT_INTERFACE, member: method }));
  } catch (e) {
    outcome = e instanceof dbus.DBusError ? e.type : String(e);
  }
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}));
process.stdout.write('sent\n');
await calls;
process.stdout.write(`${JSON.stringify({ outcomes, ms: Math.round(performance.now() - started) })}\n`);
for (const bus of buses) bus.disconnect();
