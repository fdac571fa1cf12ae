/**
 * agentctl fetch IMAGE…: fetch, verify and store images by file path, URL, name
 * (discovery) or `docker://` reference (an OCI image in a registry, verified against the
 * policy), through agentd when it runs, directly otherwise; prints each image ID on
 * stdout, a progress bar (one per layer for OCI images) on stderr when it is a terminal,
 * warnings on stderr.
 */
import { resolve } from 'node:path';
import type { InsecureOptionName } from '../../api/agent1.js';
import { AgentError } from '../../core/errors.js';
import { progressView } from '../render/progress.js';
import { EXIT, type Verb } from '../verb.js';
import { STORE_HELP, STORE_OPTIONS, withImages } from './image-backend.js';

const INSECURE: readonly InsecureOptionName[] = ['http', 'image'];

/** `--insecure-options=http,image` as a list; a usage error for anything else. */
export function parseInsecureOptions(value: string | undefined): InsecureOptionName[] {
  if (value === undefined) return [];
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.find((n) => !INSECURE.includes(n as InsecureOptionName));
  if (bad !== undefined) {
    throw new AgentError({ code: 'cli.usage', message: `--insecure-options: unknown option "${bad}"`, hint: 'Give http, image or http,image' });
  }
  return names as InsecureOptionName[];
}

export const fetchVerb: Verb = {
  name: 'fetch',
  synopsis: '[--insecure-options=http,image] IMAGE…',
  help: `  IMAGE is a file (./app.aci, /srv/app.aci), an https:// URL, NAME[:VERSION][,LABEL=VALUE]…
  found by appc discovery (version "latest" and this host's os/arch unless given), or an OCI
  image in a registry: docker://HOST[:PORT]/REPOSITORY[:TAG|@sha256:DIGEST], checked against
  agentd's --policy (a signedBy rule: signatures from the lookaside store registries.d names).
  --insecure-options=http     allow plain http for discovery, downloads and registries
  --insecure-options=image    ACIs: store without checking the signature (warns); OCI: accept
                              an image when there is no policy file at all
${STORE_HELP}`,
  options: { 'insecure-options': { type: 'string' }, ...STORE_OPTIONS },
  positionals: { min: 1, max: Infinity },
  async run(ctx, { values, positionals }) {
    const insecureOptions = parseInsecureOptions(values['insecure-options'] as string | undefined);
    const { classifyImageArgument } = await import('../../host/images/fetch.js');
    const { parseAppString } = await import('../../core/appc/app-string.js');
    for (const arg of positionals) {
      const image = classifyImageArgument(arg, parseAppString).kind === 'file' ? resolve(arg) : arg;
      const view = await progressView(ctx.stderr, arg);
      let result;
      try {
        result = await withImages(ctx, values, (b) => b.fetch({ image, insecureOptions }, (p) => view.update(p)));
      } finally {
        view.stop();
      }
      for (const warning of result.warnings) ctx.stderr.write(`agentctl: warning: ${warning}\n`);
      ctx.stdout.write(`${result.image.id}\n`);
    }
    return EXIT.ok;
  },
};
