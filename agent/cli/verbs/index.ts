/**
 * The verb table of agentctl: one entry per verb, each defined in its own file.
 */
import type { Verb } from '../verb.js';
import { configVerb } from './config.js';
import { actionVerbs, listVerbs } from './containers.js';
import { enterVerb } from './enter.js';
import { fetchVerb } from './fetch.js';
import { imageVerb } from './image.js';
import { logsVerb } from './logs.js';
import { reloadVerb } from './reload.js';
import { runVerb } from './run.js';
import { statusVerb } from './status.js';
import { trustVerb } from './trust.js';
import { updateVerb } from './update.js';

export const VERBS: readonly Verb[] = [
  statusVerb, configVerb, reloadVerb, fetchVerb, imageVerb, trustVerb, updateVerb,
  ...listVerbs, ...actionVerbs, runVerb, logsVerb, enterVerb,
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
