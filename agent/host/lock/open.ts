/**
 * Builds the reboot lock a strategy needs from plain settings (the composition root maps
 * coreos.update and coreos.locksmith onto them): the etcd semaphore for `etcd-lock`, the
 * FleetLock client for `fleetlock`. `coreos.locksmith.endpoint` names the lock server of
 * either: etcd client URLs (comma-separated), or the FleetLock server's base URL. `agentctl lock …` uses `openEtcdLock` directly, so it works
 * with no agent running.
 */
import { AgentError } from '../../core/errors.js';
import { EtcdClient } from './etcd-client.js';
import { EtcdSemaphoreLock } from './etcd-lock.js';
import { FleetLockClient } from './fleetlock.js';
import type { TlsFiles } from './http.js';
import type { RetryOptions } from './retry.js';
import type { RebootLock } from './types.js';

/** locksmith's default when coreos.locksmith.endpoint is not set. */
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

export interface EtcdLockSettings {
  /** Holder id: the machine id (see readMachineId). */
  id: string;
  group?: string;
  /** coreos.locksmith.endpoint: etcd client URLs separated by commas (FleetLock: base URL). */
  endpoint?: string;
  tls?: TlsFiles;
  username?: string;
  password?: string;
  timeoutMs?: number;
  retry?: RetryOptions;
}

export interface RebootLockSettings extends EtcdLockSettings {
  strategy: 'etcd-lock' | 'fleetlock';
}

export function openEtcdLock(settings: EtcdLockSettings): EtcdSemaphoreLock {
  const endpoints = (settings.endpoint ?? DEFAULT_ETCD_ENDPOINT).split(',').map((e) => e.trim()).filter(Boolean);
  const client = new EtcdClient({
    endpoints,
    ...(settings.tls && { tls: settings.tls }),
    ...(settings.username !== undefined && { username: settings.username }),
    ...(settings.password !== undefined && { password: settings.password }),
    ...(settings.timeoutMs !== undefined && { timeoutMs: settings.timeoutMs }),
    ...(settings.retry && { retry: settings.retry }),
  });
  return new EtcdSemaphoreLock({ client, id: settings.id, ...(settings.group && { group: settings.group }) });
}

export function openRebootLock(settings: RebootLockSettings): RebootLock {
  if (settings.strategy === 'etcd-lock') return openEtcdLock(settings);
  if (!settings.endpoint) {
    throw new AgentError({
      code: 'lock.no-endpoint',
      message: 'reboot-strategy fleetlock needs the FleetLock server URL',
      hint: 'Set coreos.locksmith.endpoint to the FleetLock base URL, e.g. "https://lock.example.com"',
    });
  }
  return new FleetLockClient({
    baseUrl: settings.endpoint,
    id: settings.id,
    ...(settings.group && { group: settings.group }),
    ...(settings.tls && { tls: settings.tls }),
    ...(settings.timeoutMs !== undefined && { timeoutMs: settings.timeoutMs }),
    ...(settings.retry && { retry: settings.retry }),
  });
}
