/**
 * agentctl reload: ask agentd to re-read its configuration and re-scan its units (root).
 */
import { callAgent } from '../agent-client.js';
import { EXIT, type Verb } from '../verb.js';

export const reloadVerb: Verb = {
  name: 'reload',
  synopsis: '',
  help: '',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    await callAgent(ctx, 'Reload');
    return EXIT.ok;
  },
};
