/**
 * Where agentctl's image verbs run: through agentd when it runs (its D-Bus image methods),
 * else directly on the store, with paths from options or the environment. The store
 * allows one process at a time, so direct mode is used only when no agent answers.
 * The direct implementation (openpgp, tar-stream) is loaded only when it is needed.
 * Ctrl-C during a fetch through agentd says that agentd goes on (there is no method to
 * cancel it) and ends agentctl; in direct mode the fetch runs in agentctl and ends with it.
 */
import { randomBytes } from 'node:crypto';
import {
  AGENT_INTERFACE, type FetchProgressEvent, type FetchRequest, type FetchResult, type GcResult, type ImageDetail, type ImageSummary,
} from '../../api/agent1.js';
import { AgentError, isAgentError } from '../../core/errors.js';
import type { ImageHolder, ImageServiceOptions } from '../../daemon/image-service.js';
import type { KeystorePaths } from '../../host/trust/keystore.js';
import { callAgent } from '../agent-client.js';
import { onInterrupt, reraiseInterrupt } from '../interrupt.js';
import type { CliContext, VerbArgs } from '../verb.js';

/** Paths of direct mode, shared by the image, fetch and trust verbs. */
export const STORE_OPTIONS = {
  'state-dir': { type: 'string' },
  'trust-dir': { type: 'string' },
  'system-trust-dir': { type: 'string' },
} as const;

export const STORE_HELP = `  --state-dir DIR          the store without agentd (default /var/lib/host-agent; env HOST_AGENT_STATE_DIR)
  --trust-dir DIR          admin trusted keys (default /etc/host-agent/trustedkeys; env HOST_AGENT_TRUST_DIR)
  --system-trust-dir DIR   system trusted keys (default /usr/lib/host-agent/trustedkeys; env HOST_AGENT_SYSTEM_TRUST_DIR)
  OCI images without agentd: env HOST_AGENT_POLICY, HOST_AGENT_REGISTRIES_D, HOST_AGENT_REGISTRY_AUTH_FILE
  (defaults /etc/host-agent/policy.json, /etc/host-agent/registries.d, /etc/host-agent/auth.json)
`;

export interface ImageBackend {
  /** `agent` when agentd did the work, `direct` otherwise. */
  readonly mode: 'agent' | 'direct';
  list(): Promise<ImageSummary[]>;
  get(ref: string): Promise<ImageDetail>;
  fetch(request: Omit<FetchRequest, 'requestId'>, onProgress: (p: FetchProgressEvent) => void): Promise<FetchResult>;
  remove(ref: string): Promise<ImageSummary>;
  gc(graceSeconds: number): Promise<GcResult>;
}

function text(values: VerbArgs['values'], key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function keystorePaths(ctx: CliContext, values: VerbArgs['values']): KeystorePaths {
  return {
    adminDir: text(values, 'trust-dir') ?? (ctx.env.HOST_AGENT_TRUST_DIR || '/etc/host-agent/trustedkeys'),
    systemDir: text(values, 'system-trust-dir') ?? (ctx.env.HOST_AGENT_SYSTEM_TRUST_DIR || '/usr/lib/host-agent/trustedkeys'),
  };
}

/** `HOST_AGENT_DISCOVERY_PORT`: discovery on another port than 443/80 (private networks, tests). */
export function discoveryPort(ctx: CliContext): number | undefined {
  const v = ctx.env.HOST_AGENT_DISCOVERY_PORT;
  if (!v) return undefined;
  const port = Number(v);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new AgentError({ code: 'cli.usage', message: `HOST_AGENT_DISCOVERY_PORT=${v} is not a port`, hint: 'Unset it, or set it to a port number' });
  }
  return port;
}

/**
 * Direct mode's images in use: those the installed container units run (their unit files
 * in the unit directory of agentctl's bus). agentd, which also knows one-off runs and
 * auto-update's images, is not running.
 */
async function installedUnitHolders(ctx: CliContext): Promise<ImageHolder[]> {
  const { UnitFileStore, defaultUnitDirs } = await import('../../host/systemd/unit-files.js');
  const { installedContainers } = await import('../../host/containers/units.js');
  const installed = await installedContainers(new UnitFileStore(defaultUnitDirs(ctx.bus, ctx.env)));
  return installed.flatMap((u) => (u.imageId === undefined ? [] : [{ imageId: u.imageId, container: u.name, why: 'unit installed' }]));
}

export function serviceOptions(ctx: CliContext, values: VerbArgs['values']): ImageServiceOptions {
  const port = discoveryPort(ctx);
  return {
    stateDir: text(values, 'state-dir') ?? (ctx.env.HOST_AGENT_STATE_DIR || '/var/lib/host-agent'),
    keystore: keystorePaths(ctx, values),
    ...(port !== undefined && { discoveryPort: port }),
    holders: () => installedUnitHolders(ctx),
    // OCI images without agentd: the files agentd's --policy, --registries-d, --registry-auth-file name.
    ...(ctx.env.HOST_AGENT_POLICY && { policyFile: ctx.env.HOST_AGENT_POLICY }),
    ...(ctx.env.HOST_AGENT_REGISTRIES_D && { registriesDir: ctx.env.HOST_AGENT_REGISTRIES_D }),
    ...(ctx.env.HOST_AGENT_REGISTRY_AUTH_FILE && { registryAuthFile: ctx.env.HOST_AGENT_REGISTRY_AUTH_FILE }),
  };
}

const json = <T>(body: unknown[]): T => JSON.parse(body[0] as string) as T;

function agentBackend(ctx: CliContext): ImageBackend {
  return {
    mode: 'agent',
    list: async () => json(await callAgent(ctx, 'ListImages')),
    get: async (ref) => json(await callAgent(ctx, 'GetImage', [ref])),
    remove: async (ref) => json(await callAgent(ctx, 'RemoveImage', [ref])),
    gc: async (graceSeconds) => json(await callAgent(ctx, 'GcImages', [JSON.stringify({ graceSeconds })])),
    async fetch(request, onProgress) {
      const requestId = randomBytes(8).toString('hex');
      const body = [JSON.stringify({ ...request, requestId } satisfies FetchRequest)];
      const goesOn = (): void => {
        ctx.stderr.write(`\nagentctl: interrupted; agentd goes on fetching ${request.image} and stores it when done (agentctl image list)\n`);
        reraiseInterrupt();
      };
      return json(await onInterrupt(() => callAgent(ctx, 'FetchImage', body, {
        // Progress signals keep the call alive: a stalled agent fails after 2 min without any.
        timeoutMs: 120_000,
        signals: {
          match: `type='signal',interface='${AGENT_INTERFACE}',member='FetchProgress'`,
          onSignal: (msg) => {
            if (msg.interface !== AGENT_INTERFACE || msg.member !== 'FetchProgress') return;
            const event = JSON.parse(msg.body[0] as string) as FetchProgressEvent;
            if (event.requestId === requestId) onProgress(event);
          },
        },
      }), goesOn));
    },
  };
}

/** The store itself (held until close). */
async function directBackend(ctx: CliContext, values: VerbArgs['values']): Promise<ImageBackend & { close(): Promise<void> }> {
  const { ImageService } = await import('../../daemon/image-service.js');
  const service = await ImageService.open(serviceOptions(ctx, values));
  return {
    mode: 'direct',
    list: () => service.list(),
    get: (ref) => service.get(ref),
    remove: (ref) => service.remove(ref),
    gc: (graceSeconds) => service.gc({ graceSeconds }),
    fetch: (request, onProgress) => service.fetch(request, (p) => onProgress({ requestId: '', phase: p.phase, done: p.done, total: p.total ?? null, ...(p.layer !== undefined && { layer: p.layer }) })),
    close: () => service.close(),
  };
}

/**
 * Runs `op` through agentd, or directly on the store when agentd is not running (it is
 * detected by the first call, before anything is done).
 */
export async function withImages<T>(ctx: CliContext, values: VerbArgs['values'], op: (images: ImageBackend) => Promise<T>): Promise<T> {
  try {
    return await op(agentBackend(ctx));
  } catch (e) {
    if (!isAgentError(e, 'cli.agent-not-running')) throw e;
  }
  const direct = await directBackend(ctx, values);
  try {
    return await op(direct);
  } finally {
    await direct.close();
  }
}
