/**
 * Platforms of OCI images (GOOS/GOARCH/variant, as image indexes name them) and the choice
 * of one manifest from an index for this host: linux, the host's architecture and a
 * variant it can run, as containers/image chooses (arm64 takes `v8` or none; arm `vN`
 * takes vN, then older variants down to v5; amd64 takes none or `v1`). Pure: the host's
 * platform is an argument (agent/host maps Node's `process.arch`).
 */
import { AgentError } from '../errors.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** GOARCH names of Node's `process.arch` values. */
const GOARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64',
};

/** The platform of a Node process: `arch` is `process.arch`, `armVersion` Node's arm_version (6, 7) on arm. */
export function nodePlatform(arch: string, armVersion?: string | number): Platform {
  const architecture = GOARCH[arch] ?? arch;
  if (architecture === 'arm') return { os: 'linux', architecture, variant: `v${armVersion ?? 7}` };
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  return { os: 'linux', architecture };
}

/** The variants acceptable for `wanted`, best first ('' = no variant given). */
function acceptedVariants(wanted: Platform): string[] {
  if (wanted.architecture === 'arm64') return ['v8', ''];
  if (wanted.architecture === 'amd64') return ['', 'v1'];
  if (wanted.architecture === 'arm') {
    const n = Number((wanted.variant ?? 'v7').slice(1));
    const older = Array.from({ length: Math.max(0, n - 4) }, (_, i) => `v${n - i}`);
    return [...older, ''];
  }
  return [wanted.variant ?? ''];
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * The entry of `entries` (each with an optional platform) that `wanted` runs, best variant
 * first; entries without a platform are not chosen. None: `image.platform-missing` naming
 * the platforms the index has.
 */
export function choosePlatform<T extends { platform?: Platform }>(entries: readonly T[], wanted: Platform, subject: string): T {
  const variants = acceptedVariants(wanted);
  let best: { entry: T; rank: number } | undefined;
  for (const entry of entries) {
    const p = entry.platform;
    if (!p || p.os !== wanted.os || p.architecture !== wanted.architecture) continue;
    const rank = variants.indexOf(p.variant ?? '');
    if (rank >= 0 && (!best || rank < best.rank)) best = { entry, rank };
  }
  if (best) return best.entry;
  const has = entries.map((e) => (e.platform ? formatPlatform(e.platform) : '(no platform)'));
  throw new AgentError({
    code: 'image.platform-missing',
    message: `the image has no manifest for ${formatPlatform(wanted)}; it has ${has.length ? has.join(', ') : 'no manifests'}`,
    subject,
    hint: 'Use an image built for this host\'s architecture, or ask the publisher to add it to the image index',
  });
}
