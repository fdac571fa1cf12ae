/**
 * The Omaha update channel: asks an Omaha 3.0 server (Nebraska, CoreUpdate) as update_engine
 * does, turns an `ok` answer into a release the engine installs like a release.json one, and
 * reports the engine's progress as Omaha events (13/1, 14/1, 3/1, 3/0; 3/2 or 3/0 errorcode
 * 44 with the first check after the reboot). The server only offers: its sha256 is checked
 * while writing, and the slot may boot only once `<payload URL>.asc`, a detached signature by
 * a key of the update keyring, verifies over the bytes written. Events are best effort (as in
 * update_engine): posted in order, each with the HTTP deadlines, a failure only logged.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AgentError, isAgentError } from '../../core/errors.js';
import type { UpdateState } from '../../core/update/machine.js';
import {
  afterRebootEvents,
  omahaEventFor,
  omahaRequestXml,
  parseOmahaResponse,
  type OmahaAnswer,
  type OmahaEvent,
  type OmahaHost,
  type OmahaRequest,
} from '../../core/update/omaha.js';
import type { Release } from '../../core/update/release.js';
import type { Warn } from '../fs/state-file.js';
import { expectOk, httpGet, readBody, type HttpOptions } from '../net/http.js';
import { decideOffer, getSmall, type ChannelAnswer, type ChannelQuery, type SignedRelease, type UpdateChannel, type VerifyStream } from './channel.js';
import { readOmahaState, writeOmahaState, type OmahaState } from './omaha-state.js';

/** An `ok` offer is installed only within this time of the check that made it. */
export const OFFER_LIFETIME_MS = 24 * 3600_000;
const RESPONSE_LIMIT = 256 * 1024;

export interface OmahaChannelOptions {
  /** The Omaha endpoint, e.g. https://public.update.flatcar-linux.net/v1/update/ */
  server: string;
  /** The update group, sent as `track`. */
  group: string;
  appId: string;
  board: string;
  currentVersion: string;
  /** Holds omaha.json. */
  stateDir: string;
  /** Default /etc/machine-id. */
  machineIdPath?: string;
  /** Default /proc/sys/kernel/random/boot_id. */
  bootIdPath?: string;
  /** `ID` and `VERSION_ID` of it are the request's `oem` and `oemversion`, as update_engine reads them; default /usr/share/oem/oem-release. */
  oemReleasePath?: string;
  /** Checks `<payload URL>.asc` over the written payload against the update keyring. */
  verifyPayload: VerifyStream;
  /** Deadlines (and agentd's stop signal) for the event posts. */
  http?: HttpOptions;
  /** Told of every answer the server gave to a check. */
  onAnswer?: (answer: OmahaAnswer, at: number) => void;
  warn: Warn;
}

/** `ID` and `VERSION_ID` of an os-release style file; empty when it or they are absent. */
async function readOem(path: string): Promise<{ oem: string; oemVersion: string }> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const field = (name: string): string => new RegExp(`^${name}=("?)([^"\\n]*)\\1$`, 'm').exec(text)?.[2] ?? '';
  return { oem: field('ID'), oemVersion: field('VERSION_ID') };
}

async function readId(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    throw new AgentError({ code: 'update.omaha-no-id', message: `cannot read the ${what}: ${(e as Error).message}`, subject: path, hint: `The Omaha request needs the ${what}; check that ${path} exists (systemd-machine-id-setup)`, cause: e });
  }
}

export class OmahaChannel implements UpdateChannel {
  readonly #statePath: string;
  #events: Promise<void> = Promise.resolve();

  constructor(private readonly options: OmahaChannelOptions) {
    this.#statePath = join(options.stateDir, 'omaha.json');
  }

  /** Resolves once every event posted so far was answered or given up on. */
  drain(): Promise<void> {
    return this.#events;
  }

  async #host(state: OmahaState): Promise<OmahaHost> {
    const o = this.options;
    const [machineId, bootId, oem] = await Promise.all([
      readId(o.machineIdPath ?? '/etc/machine-id', 'machine id'),
      readId(o.bootIdPath ?? '/proc/sys/kernel/random/boot_id', 'boot id'),
      readOem(o.oemReleasePath ?? '/usr/share/oem/oem-release'),
    ]);
    return {
      appId: o.appId, version: o.currentVersion, track: o.group, machineId, bootId: `{${bootId}}`,
      board: o.board, alephVersion: state.alephVersion, ...oem,
    };
  }

  async #state(): Promise<OmahaState> {
    const found = await readOmahaState(this.#statePath, this.options.warn);
    if (found) return found;
    const state = { alephVersion: this.options.currentVersion };
    await writeOmahaState(this.#statePath, state);
    return state;
  }

  async #post(request: OmahaRequest, state: OmahaState, http: HttpOptions | undefined): Promise<string> {
    const body = omahaRequestXml(await this.#host(state), request);
    const res = await httpGet(this.options.server, { ...http, allowHttp: true, errors: 'update', post: { body, contentType: 'text/xml' } });
    expectOk(res, 'Omaha response', '');
    return (await readBody(res, RESPONSE_LIMIT)).toString('utf8');
  }

  async check(query: ChannelQuery): Promise<ChannelAnswer> {
    const o = this.options;
    const state = await this.#state();
    const bootId = (await this.#host(state)).bootId;
    const rebooted = state.staged !== undefined && state.staged.bootId !== bootId;
    const events: OmahaEvent[] = rebooted ? afterRebootEvents(state.staged?.previousVersion, o.currentVersion) : [];
    const text = await this.#post({ kind: 'check', events, interactive: false }, state, query.http);
    const answer = parseOmahaResponse(text, o.appId, o.server);
    const at = query.now();
    if (rebooted) await writeOmahaState(this.#statePath, { alephVersion: state.alephVersion });
    o.onAnswer?.(answer, at);
    if (answer.status !== 'ok') return { available: undefined, offered: undefined };
    const { offer } = answer;
    const release: Release = {
      version: offer.version,
      expires: new Date(at + OFFER_LIFETIME_MS).toISOString(),
      payload: { url: offer.urls[0]!, size: offer.size, sha256: offer.sha256, compression: 'none' },
    };
    const signed: SignedRelease = { release, payloadUrl: offer.urls[0]!, signedBy: '' };
    return decideOffer(signed, query);
  }

  observe(prev: UpdateState, next: UpdateState): void {
    const event = omahaEventFor(prev, next);
    const staged = prev.kind === 'FINALIZING' && next.kind === 'UPDATED_NEED_REBOOT';
    const dropped = prev.kind === 'UPDATED_NEED_REBOOT' && next.kind === 'IDLE';
    if (!event && !staged && !dropped) return;
    this.#events = this.#events.then(async () => {
      try {
        const state = await this.#state();
        if (staged) {
          const bootId = (await this.#host(state)).bootId;
          await writeOmahaState(this.#statePath, { ...state, staged: { previousVersion: this.options.currentVersion, bootId } });
        } else if (dropped) {
          await writeOmahaState(this.#statePath, { alephVersion: state.alephVersion });
        }
        if (event) await this.#post({ kind: 'event', event }, state, this.options.http);
      } catch (e) {
        this.options.warn(`Omaha event ${event ? `${event.type}/${event.result}` : '(state)'} not delivered: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  async verifyWritten(signed: SignedRelease, read: Readable, http: HttpOptions | undefined): Promise<void> {
    const url = `${signed.payloadUrl}.asc`;
    try {
      const signature = (await getSmall(url, 'payload signature', http)).toString('utf8');
      const { fingerprint } = await this.options.verifyPayload(read, signature);
      signed.signedBy = fingerprint;
    } catch (e) {
      read.destroy();
      if (isAgentError(e, 'update.cancelled')) throw e;
      throw new AgentError({
        code: 'update.bad-signature',
        message: `the payload of ${signed.release.version} has no valid signature by a key of the update keyring (an Omaha hash is no signature): ${e instanceof Error ? e.message : String(e)}`,
        subject: url,
        hint: 'Publish `gpg --armor --detach-sign` of the payload next to it as <payload>.asc, made with a key in the update keyring (trustedkeys/update.d)',
        cause: e,
      });
    }
  }
}
