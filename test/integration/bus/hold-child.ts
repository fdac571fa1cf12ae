/**
 * A bus connection held by another process (run as another user by the tests): connects
 * to the bus of DBUS_SYSTEM_BUS_ADDRESS, prints its unique name, and disconnects when its
 * stdin closes.
 */
import { connectBus } from '../../../agent/host/systemd/dbus.js';

const bus = await connectBus('system');
// dbus-next sets `name` (the unique name) once connected; its typings lack it.
process.stdout.write(`${(bus as unknown as { name: string }).name}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  bus.disconnect();
  process.exit(0);
});
