#!/usr/bin/env node
/**
 * agentd — the composition root. Every part of the daemon is built and wired here and
 * nowhere else: logger, status board, systemd link, managed units, the D-Bus service.
 *
 * Life cycle: watch and read the configuration, connect to systemd (retrying with backoff
 * in the background while it is unreachable), then serve the D-Bus API and take the bus
 * name: systemd's Type=dbus readiness. Applying the configuration goes on after that.
 * SIGTERM/SIGINT: finish the current operation, release the bus name, exit 0.
 */
import { join } from 'node:path';
import { AGENT_METHODS } from './api/agent1.js';
import type { HostConfig } from './core/config/types.js';
import { AgentError, describeError } from './core/errors.js';
import { requiredUnitsOf } from './core/update/required-units.js';
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
import { ConfigService } from './daemon/config-service.js';
import type { HostContext } from './host/apply/observe.js';
import { chooseHostnameStore } from './host/hostname.js';
import { autoUpdateHolders, ImageService } from './daemon/image-service.js';
import { cgroupParentFor, readHostFacts } from './host/containers/host-facts.js';
import { ContainerUnits } from './host/containers/units.js';
import { layerDirOf } from './host/images/store.js';
import { helperCommand, networkSettings } from './host/network/default-network.js';
import { ContainerService, serviceImages } from './daemon/container-service.js';
import { readOsVersion, UpdateService } from './daemon/update-service.js';
import { RebootCoordinator, rebootSettingsFrom } from './daemon/reboot-coordinator.js';
import { ImageUpdateService, newestFromService, settleMsFromEnv } from './daemon/image-updates.js';
import { systemReboot } from './host/reboot/reboot.js';

async function runAgent(options: AgentOptions, log: Logger): Promise<void> {
  const version = packageVersion();
  const runner = new ExclusiveRunner();
  const unitFiles = new UnitFileStore(options.unitDirs);
  let host: HostContext | undefined;
  let link: SystemdLink | undefined;
  /** The configuration in force (its units and containers are what a healthy boot needs). */
  let inForce: HostConfig | undefined;
  const updates = new UpdateService({
    paths: {
      ...(options.updateDisk !== undefined && { disk: options.updateDisk }),
      ...(options.bootCmdline !== undefined && { cmdlinePath: options.bootCmdline }),
      stateDir: join(options.stateDir, 'updates'),
    },
    keyring: { adminDir: options.trustDir, systemDir: options.systemTrustDir },
    channel: {},
    currentVersion: await readOsVersion(),
    log,
    requiredUnits: async () => [...(inForce ? requiredUnitsOf(inForce) : []), 'host-agent.service'],
    ...(options.bootGraceMs !== undefined && { graceMs: options.bootGraceMs }),
    ...(options.bootHealthTimeoutMs !== undefined && { healthTimeoutMs: options.bootHealthTimeoutMs }),
    allowDowngrade: options.updateAllowDowngrade,
    unitActiveState: async (unit) => {
      if (!link?.manager) throw new Error('systemd is not connected');
      return (await link.manager.unitStatus(unit)).activeState;
    },
  });
  const reboot = new RebootCoordinator({
    settings: rebootSettingsFrom({ update: {}, locksmith: {} }),
    rebootNeeded: async () => updates.status().state === 'UPDATED_NEED_REBOOT',
    // A host without A/B updates must still release a slot it holds.
    bootMarkedGood: async () => ['already-good', 'marked-good', 'disabled'].includes(updates.status().boot.status),
    reboot: systemReboot({ systemd: () => link?.manager, log }),
    log,
    onStatus: (status) => board.setReboot(status),
    heldPath: join(options.stateDir, 'reboot/lock-held.json'),
    machineIdPath: join(options.hostRoot, 'etc/machine-id'),
  });
  updates.onChange(() => reboot.poke());
  const config = new ConfigService({
    paths: { mainFile: options.configPath, systemDropinDir: options.systemConfigDir, adminDropinDir: options.adminConfigDir },
    lastGoodPath: join(options.stateDir, 'config/last-good.json'),
    runner,
    log,
    host: () => host,
    onStatus: (status) => board.setConfig(status),
    onConfig: async (desired) => {
      inForce = desired;
      reboot.setSettings(rebootSettingsFrom(desired));
      await updates.setChannel(desired.update);
      imageUpdates.setConfig(desired);
      void containers.reconcile(desired).catch((e: unknown) => log.error(`reconciling containers failed: ${describeError(e)}`));
    },
  });
  const board = new StatusBoard(version, { bus: options.bus, connected: false }, config.snapshot(), updates.status());
  updates.onChange((status) => board.setUpdate(status));
  const units = new ManagedUnits(unitFiles, board, log);
  link = new SystemdLink({
    bus: options.bus,
    env: process.env,
    log,
    board,
    onConnected: async (systemd) => {
      host = {
        systemd, unitFiles, root: options.hostRoot, sshUser: options.sshUser,
        hostname: await chooseHostnameStore(options.bus === 'system' ? systemd.bus : undefined, options.hostRoot),
      };
      await units.attach(systemd);
      await containers.attach(systemd);
      void config.reapply().catch((e: unknown) => log.error(`applying the configuration failed: ${describeError(e)}`));
    },
  });

  const images = await ImageService.open({
    stateDir: options.stateDir,
    keystore: { adminDir: options.trustDir, systemDir: options.systemTrustDir },
    // A direct-mode agentctl (run while no agent was) may be finishing with the store.
    lockWaitMs: 60_000,
    ...(options.maxImageBytes !== undefined && { limits: { maxBytes: options.maxImageBytes } }),
    warn: (m) => log.warn(m),
    // Discovery on another port than 443 (private networks, tests), as for agentctl.
    ...(process.env.HOST_AGENT_DISCOVERY_PORT && { discoveryPort: Number(process.env.HOST_AGENT_DISCOVERY_PORT) }),
    // Images in use (rm refuses them, gc keeps them): what containers run or are declared
    // on, and the staged and rollback images of auto-updates.
    holders: async () => [...containers.imageHolders(), ...autoUpdateHolders(imageUpdates.document())],
    runner,
    policyFile: options.policyFile,
    registriesDir: options.registriesDir,
    registryAuthFile: options.registryAuthFile,
  });
  const output = options.bus === 'system' ? 'journal' : 'file';
  const containers = new ContainerService({
    runner, log, stateDir: options.stateDir, output, bus: options.bus,
    units: new ContainerUnits({
      stateDir: options.stateDir, unitFiles, output, facts: await readHostFacts({ bus: options.bus, cgroupParent: cgroupParentFor(options.stateDir) }),
      images: { layerDir: (layerId) => layerDirOf(options.stateDir, layerId) },
      // Enabled container units start at boot before, and without, the agent.
      wantedBy: options.bus === 'system' ? 'machines.target' : 'default.target',
      network: networkSettings(options.runtimeDir, helperCommand(), {
        ...(process.env.HOST_AGENT_BRIDGE && { bridge: process.env.HOST_AGENT_BRIDGE }),
        ...(process.env.HOST_AGENT_SUBNET && { subnet: process.env.HOST_AGENT_SUBNET }),
      }),
    }),
    images: serviceImages(images),
    onStatus: (list) => board.setContainers(list),
  });
  const imageUpdates = new ImageUpdateService({
    statePath: join(options.stateDir, 'image-updates.json'), log, containers,
    fetchNewest: newestFromService(images), settleMs: settleMsFromEnv(process.env),
    onRollback: (latest) => board.setImageRollback(latest),
  });
  await imageUpdates.load();
  let emit: (signal: 'FetchProgress', json: string) => void = () => undefined;

  const applied = async (): Promise<string> => {
    const report = await config.reload();
    if (!report) {
      throw new AgentError({ code: 'agent.not-applied', message: 'the configuration was not applied: systemd is not connected or no valid configuration was read', hint: 'See agentctl status' });
    }
    return JSON.stringify(report);
  };
  const handlers: AgentHandlers = {
    GetStatus: async () => [JSON.stringify(board.snapshot())],
    Reload: async () => {
      try {
        await config.reload();
      } finally {
        if (link.manager) await units.rescan(link.manager);
      }
      log.info('reloaded on request');
      return [];
    },
    PlanConfig: async () => [JSON.stringify(await config.plan((desired) => containers.plan(desired)))],
    ApplyConfig: async () => [await applied()],
    ...images.handlers((event) => emit('FetchProgress', JSON.stringify(event))),
    ...updates.handlers(),
    ...containers.handlers(),
    ...reboot.handlers(),
    ...imageUpdates.handlers(),
  };

  // Ready (the bus name, which systemd waits for) once the config is watched and read.
  await config.watch();
  await link.start();
  await config.start();
  updates.start();
  reboot.start();
  board.setState('running');
  const serviceBus = await connectBus(options.bus);
  const service = await AgentBusService.start(serviceBus, handlers, { log, ...(options.readGroup !== undefined && { readGroup: options.readGroup }) });
  board.onChange((status) => service.emit('StatusChanged', JSON.stringify(status)));
  emit = (signal, json) => service.emit(signal, json);
  updates.onChange((status) => service.emit('UpdateStatusChanged', JSON.stringify(status)));
  log.info(`agentd ${version} owns org.hostagent.Agent1 on the ${options.bus} bus (${Object.keys(AGENT_METHODS).length} methods)`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info(`${signal}: stopping${runner.current ? ` after "${runner.current}"` : ''}`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

  board.setState('stopping');
  await config.stop();
  await updates.stop();
  await reboot.stop();
  await imageUpdates.stop();
  await runner.close();
  board.flush();
  await service.stop();
  await images.close();
  containers.stop();
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
