/**
 * The state of the cloud-config file as the status reports it.
 */
import { access } from 'node:fs/promises';
import type { ConfigStatus } from '../api/agent1.js';

export async function readConfigStatus(path: string): Promise<ConfigStatus> {
  try {
    await access(path);
  } catch {
    return { path, state: 'missing', entries: [] };
  }
  return { path, state: 'unread', entries: [], loadedAt: new Date().toISOString() };
}
