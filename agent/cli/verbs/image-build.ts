/**
 * agentctl image build|sign|publish: make your own image without actool or acbuild.
 *   build DIR --name N --version V [--exec CMD] [--label K=V]… [--os O] [--arch A] [--output FILE]
 *   sign IMAGE --key KEYFILE [--passphrase-file FILE]
 *   publish IMAGE TREE [--base-url URL]
 * No agent needed; the rules are agent/core/appc/build.ts, the work agent/host/images/.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildManifest, defaultBaseUrl, parseExec, publishPlan } from '../../core/appc/build.js';
import { AgentError } from '../../core/errors.js';
import { EXIT, type CliContext, type VerbArgs } from '../verb.js';
import { discoveryPort } from './image-backend.js';

function usage(message: string, hint: string): AgentError {
  return new AgentError({ code: 'cli.usage', message, hint });
}

const text = (values: VerbArgs['values'], key: string): string | undefined => (typeof values[key] === 'string' ? (values[key] as string) : undefined);

function required(values: VerbArgs['values'], key: string, synopsis: string): string {
  const v = text(values, key);
  if (v === undefined) throw usage(`image ${synopsis.split(' ')[0]} needs --${key}`, `Usage: agentctl image ${synopsis}`);
  return v;
}

export const BUILD_SYNOPSIS = 'build DIR --name NAME --version VERSION [--exec CMD] [--label KEY=VALUE]… [--os OS] [--arch ARCH] [--output FILE]';
export const SIGN_SYNOPSIS = 'sign IMAGE --key KEYFILE [--passphrase-file FILE]';
export const PUBLISH_SYNOPSIS = 'publish IMAGE TREE [--base-url URL]';

export const BUILD_HELP = `  build DIR …              write an image (.aci) of DIR as its root file system: --name, --version,
                           --exec "CMD ARGS" (or a JSON array), --label K=V (repeatable),
                           --os/--arch (default linux/amd64), --output (default ./BASE-VERSION-OS-ARCH.aci);
                           reproducible: sorted entries, fixed mtimes, owners 0:0
  sign IMAGE --key KEYFILE write IMAGE.asc, signed with an armored v4 private key
                           (gpg --armor --export-secret-keys); --passphrase-file for a protected key
  publish IMAGE TREE       lay out TREE for a static web server: PATH/index.html (ac-discovery),
                           BASE-VERSION-OS-ARCH.aci(.asc) and the latest copies; --base-url
                           (default https://HOST of the name, with HOST_AGENT_DISCOVERY_PORT's port)
`;

export const BUILD_OPTIONS = ['name', 'version', 'exec', 'label', 'os', 'arch', 'output', 'key', 'passphrase-file', 'base-url'];

export const buildOptions = {
  name: { type: 'string' },
  version: { type: 'string' },
  exec: { type: 'string' },
  label: { type: 'string', multiple: true },
  os: { type: 'string' },
  arch: { type: 'string' },
  output: { type: 'string' },
  key: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'base-url': { type: 'string' },
} as const;

export async function build(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  const execText = text(values, 'exec');
  const built = buildManifest({
    name: required(values, 'name', BUILD_SYNOPSIS),
    version: required(values, 'version', BUILD_SYNOPSIS),
    os: text(values, 'os') ?? 'linux',
    arch: text(values, 'arch') ?? 'amd64',
    ...(execText !== undefined && { exec: parseExec(execText) }),
    labels: Array.isArray(values.label) ? (values.label as string[]) : [],
  });
  const out = text(values, 'output') ?? `${publishPlan(built.manifest, 'https://unused').versioned}.aci`;
  const { buildImage } = await import('../../host/images/build.js');
  await buildImage(positionals[0]!, built.text, out);
  const { stat } = await import('node:fs/promises');
  if (!(await stat(join(positionals[0]!, 'usr')).then((s) => s.isDirectory(), () => false))) {
    ctx.stderr.write(`note: ${positionals[0]} has no usr/ directory: systemd-nspawn refuses to run such a tree (an empty one will do)\n`);
  }
  ctx.stdout.write(`${resolve(out)}\n`);
  return EXIT.ok;
}

export async function sign(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  const key = required(values, 'key', SIGN_SYNOPSIS);
  const passFile = text(values, 'passphrase-file');
  const passphrase = passFile === undefined ? undefined : (await readFile(passFile, 'utf8')).replace(/\r?\n$/, '');
  const { signImage } = await import('../../host/images/sign.js');
  const result = await signImage(positionals[0]!, key, passphrase);
  ctx.stdout.write(`${resolve(result.signature)} (key ${result.fingerprint})\n`);
  return EXIT.ok;
}

export async function publish(ctx: CliContext, { values, positionals }: VerbArgs): Promise<number> {
  const [image, tree] = positionals as [string, string];
  const { publishImage, readImageManifest } = await import('../../host/images/publish.js');
  const baseUrl = text(values, 'base-url') ?? defaultBaseUrl((await readImageManifest(image)).name, discoveryPort(ctx));
  const published = await publishImage(image, tree, baseUrl);
  for (const file of published.files) ctx.stdout.write(`${file}\n`);
  ctx.stdout.write(`discovery: ${published.template}${published.latest ? '' : ' (latest left at a newer version)'}\n`);
  return EXIT.ok;
}
