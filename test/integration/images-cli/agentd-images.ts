/**
 * A test-only agentd composition for the image tests: the D-Bus service with the image
 * methods of ImageService (and a minimal GetStatus for readiness), on the bus of the
 * environment, until SIGTERM. agent/main.ts wires the same ImageService into the real
 * agentd. argv[2]: state dir, argv[3]: admin trust dir, argv[4]: system trust dir.
 * Env HOST_AGENT_DISCOVERY_PORT: the discovery port; NODE_EXTRA_CA_CERTS: the test CA.
 */
import { AgentBusService, type AgentHandlers } from '../../../agent/host/bus/service.js';
import { connectBus } from '../../../agent/host/systemd/dbus.js';
import { busKindFromEnv } from '../../../agent/host/bus/address.js';
import { ImageService } from '../../../agent/daemon/image-service.js';

const [stateDir, adminDir, systemDir] = process.argv.slice(2) as [string, string, string];
const port = process.env.HOST_AGENT_DISCOVERY_PORT;
const images = await ImageService.open({
  stateDir,
  keystore: { adminDir, systemDir },
  ...(port && { discoveryPort: Number(port) }),
});
const bus = await connectBus(busKindFromEnv(process.env));
let service: AgentBusService | undefined;
const handlers = {
  GetStatus: async () => ['{}'],
  ...images.handlers((event) => service?.emit('FetchProgress', JSON.stringify(event))),
} as Partial<AgentHandlers> as AgentHandlers;
service = await AgentBusService.start(bus, handlers);
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void service!.stop().then(() => images.close()).then(() => bus.disconnect());
});
