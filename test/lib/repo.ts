/**
 * Paths of the repository, for tests that run its scripts and programs.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const AGENTD = join(REPO, 'agent/main.ts');
export const AGENTCTL = join(REPO, 'agent/cli/main.ts');
