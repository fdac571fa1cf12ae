/**
 * agentctl help [VERB [SUB]] and agentctl version: the same texts as `--help` and
 * `--version` (usage.ts), as verbs, the way `podman help` and `systemctl --version` work.
 */
import { AgentError } from '../../core/errors.js';
import { didYouMean } from '../suggest.js';
import { mainUsage, subverbUsage, verbUsage } from '../usage.js';
import { EXIT, type Verb } from '../verb.js';
import { VERBS, findVerb } from './index.js';

export const helpVerb: Verb = {
  name: 'help',
  synopsis: '[VERB [SUB-VERB]]',
  help: '  VERB [SUB-VERB]   show the help of a verb (or of one of its sub-verbs); without one, list the verbs\n',
  options: {},
  positionals: { min: 0, max: 2 },
  async run(ctx, { positionals }) {
    const [name, sub] = positionals;
    if (name === undefined) {
      ctx.stdout.write(mainUsage(VERBS));
      return EXIT.ok;
    }
    const entry = findVerb(name);
    if (!entry || entry.hidden) {
      const names = VERBS.filter((v) => !v.hidden).map((v) => v.name);
      throw new AgentError({ code: 'cli.usage', message: `unknown verb "${name}"`, hint: `${didYouMean(name, names)}See agentctl help` });
    }
    const verb = await entry.load();
    ctx.stdout.write(sub !== undefined && verb.subverbs?.includes(sub) ? subverbUsage(entry, verb, sub) : verbUsage(entry, verb));
    return EXIT.ok;
  },
};

export const versionVerb: Verb = {
  name: 'version',
  synopsis: '',
  help: '',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const { packageVersion } = await import('../../host/version.js');
    ctx.stdout.write(`agentctl ${packageVersion()}\n`);
    return EXIT.ok;
  },
};
