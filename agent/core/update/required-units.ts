/**
 * The units a healthy boot needs, from the configuration in force: the cloud-config
 * units the agent runs (a command that starts them, or enable) unless masked, and every
 * declared container. A unit only written (no command, not enabled), stopped by its
 * command, or masked is not expected to run, so it cannot hold back marking the slot good.
 * Pure: no I/O.
 */
import type { HostConfig } from '../config/types.js';
import { containerUnitName } from '../containers/render.js';

const STARTS = new Set(['start', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart']);

export function requiredUnitsOf(config: Pick<HostConfig, 'units' | 'containers'>): string[] {
  const units = config.units.filter((u) => !u.mask && (u.enable || (u.command !== undefined && STARTS.has(u.command)))).map((u) => u.name);
  return [...units, ...config.containers.map((c) => containerUnitName(c.name))];
}
