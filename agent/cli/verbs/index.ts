/**
 * The verb table of agentctl: one entry per verb, each defined in its own file.
 */
import type { Verb } from '../verb.js';
import { reloadVerb } from './reload.js';
import { statusVerb } from './status.js';

export const VERBS: readonly Verb[] = [statusVerb, reloadVerb];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
