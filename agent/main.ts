#!/usr/bin/env node
/**
 * agentd — the composition root. Every part of the daemon is built and wired here and
 * nowhere else: logger, status board, systemd link, managed units, the D-Bus service.
 *
 * Life cycle: serve the D-Bus API, then take the bus name (systemd's Type=dbus readiness),
 * connect to systemd (retrying with backoff while it is unreachable). SIGTERM/SIGINT:
 * finish the current operation, release the bus name, exit 0.
 */
import { AGENT_METHODS } from './api/agent1.js';
import { describeError } from './core/errors.js';
import { AgentBusService, type AgentHandlers } from './host/bus/service.js';
import { connectBus } from './host/systemd/dbus.js';
import { UnitFileStore } from './host/systemd/unit-files.js';
import { createLogger, type Logger } from './host/log/logger.js';
import { packageVersion } from './host/version.js';
import { AGENTD_USAGE, parseAgentArgs, type AgentOptions } from './daemon/options.js';
import { ExclusiveRunner } from './daemon/runner.js';
import { StatusBoard } from './daemon/status-board.js';
import { SystemdLink } from './daemon/systemd-link.js';
import { ManagedUnits } from './daemon/managed-units.js';
import { readConfigStatus } from './daemon/config-state.js';

async function runAgent(options: AgentOptions, log: Logger): Promise<void> {
  const version = packageVersion();
  const board = new StatusBoard(
    version,
    { bus: options.bus, connected: false },
    await readConfigStatus(options.configPath),
  );
  const runner = new ExclusiveRunner();
  const units = new ManagedUnits(new UnitFileStore(options.unitDirs), board, log);
  const link = new SystemdLink({
    bus: options.bus,
    env: process.env,
    log,
    board,
    onConnected: (manager) => units.attach(manager),
  });

  const handlers: AgentHandlers = {
    GetStatus: async () => [JSON.stringify(board.snapshot())],
    Reload: () => runner.run('reload', async () => {
      board.setConfig(await readConfigStatus(options.configPath));
      if (link.manager) await units.rescan(link.manager);
      log.info('reloaded on request');
      return [];
    }),
  };

  const serviceBus = await connectBus(options.bus);
  const service = await AgentBusService.start(serviceBus, handlers);
  board.onChange((status) => service.emit('StatusChanged', JSON.stringify(status)));
  log.info(`agentd ${version} owns org.hostagent.Agent1 on the ${options.bus} bus (${Object.keys(AGENT_METHODS).length} methods)`);

  await link.start();
  board.setState('running');

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info(`${signal}: stopping${runner.current ? ` after "${runner.current}"` : ''}`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

  board.setState('stopping');
  await runner.close();
  board.flush();
  await service.stop();
  link.stop();
  serviceBus.disconnect();
  log.info('stopped');
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseAgentArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`agentd: ${describeError(e)}\n`);
    return 2;
  }
  if ('help' in parsed) {
    process.stdout.write(AGENTD_USAGE);
    return 0;
  }
  if ('version' in parsed) {
    process.stdout.write(`agentd ${packageVersion()}\n`);
    return 0;
  }
  const log = createLogger(parsed.options.logFormat, parsed.options.logLevel);
  try {
    await runAgent(parsed.options, log);
    return 0;
  } catch (e) {
    log.error(`agentd failed: ${describeError(e)}`);
    return 1;
  }
}

process.exitCode = await main();
