/**
 * Omaha 3.0 as update_engine speaks it to CoreUpdate and Nebraska (pure): the request
 * (`<request protocol="3.0">` with `<os>` and one `<app>` carrying `<ping>`,
 * `<updatecheck>` and events), the response checks update_engine makes before it takes
 * an update, the events the engine's transitions report, and which protocol a configured
 * update server speaks.
 */
import { AgentError } from '../errors.js';
import { escapeXml, findPath, parseXml, XmlSyntaxError, childrenNamed, type XmlElement } from './omaha-xml.js';
import type { UpdateState } from './machine.js';
import { isVersion } from './version.js';

/** The CoreOS / Flatcar application id, update_engine's default. */
export const COREOS_APP_ID = '{e96281a6-d1af-4bde-9a0a-97b76e56dc57}';
export const DEFAULT_BOARD = 'amd64-usr';
/** What the client calls itself in `<request version updaterversion>`. */
export const UPDATER_VERSION = 'host-agent-0.1.0';

/** Event types and results of update_engine's OmahaEvent. */
export const EVENT_TYPE = { updateComplete: 3, downloadStarted: 13, downloadFinished: 14 } as const;
export const EVENT_RESULT = { error: 0, success: 1, successReboot: 2 } as const;
/** update_engine's action codes for the failures the agent reports (errorcode). */
export const ERROR_CODE = {
  error: 1,
  omahaResponseInvalid: 7,
  downloadTransferError: 9,
  payloadHashMismatch: 10,
  payloadSizeMismatch: 11,
  payloadVerificationError: 12,
  /** Still running the version from before the update after its reboot: the bootloader fell back. */
  rollback: 44,
} as const;

export interface OmahaEvent {
  type: number;
  result: number;
  errorCode?: number;
  previousVersion?: string;
}

/** What the `<app>` says about this host. */
export interface OmahaHost {
  appId: string;
  /** The OS version running. */
  version: string;
  /** The update group (coreos.update.group). */
  track: string;
  /** /etc/machine-id. */
  machineId: string;
  /** /proc/sys/kernel/random/boot_id, in braces as update_engine sends it. */
  bootId: string;
  board: string;
  /** The first version installed on this host (kept in state). */
  alephVersion: string;
  /** coreos.oem id, empty when none. */
  oem: string;
  oemVersion: string;
}

export type OmahaRequest =
  /** An update check: `<ping>`, `<updatecheck>` and the events due with it (3/2 after a reboot, 3/0 44). */
  | { kind: 'check'; events: readonly OmahaEvent[]; interactive: boolean }
  /** One event on its own (13/1, 14/1, 3/1, 3/0). */
  | { kind: 'event'; event: OmahaEvent };

function eventXml(e: OmahaEvent): string {
  const extra = (e.errorCode !== undefined ? ` errorcode="${e.errorCode}"` : '') +
    (e.previousVersion !== undefined ? ` previousversion="${escapeXml(e.previousVersion)}"` : '');
  return `    <event eventtype="${e.type}" eventresult="${e.result}"${extra}></event>\n`;
}

/** The request document, with update_engine's attributes in its order. */
export function omahaRequestXml(host: OmahaHost, request: OmahaRequest): string {
  const a = (name: string, value: string): string => ` ${name}="${escapeXml(value)}"`;
  const body = request.kind === 'check'
    ? '    <ping active="1"></ping>\n    <updatecheck></updatecheck>\n' + request.events.map(eventXml).join('')
    : eventXml(request.event);
  const source = request.kind === 'check' && request.interactive ? 'ondemandupdate' : 'scheduler';
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<request protocol="3.0"${a('version', UPDATER_VERSION)}${a('updaterversion', UPDATER_VERSION)}${a('installsource', source)} ismachine="1">\n` +
    ` <os${a('version', 'Chateau')}${a('platform', 'CoreOS')}${a('sp', `${host.version}_x86_64`)}></os>\n` +
    ` <app${a('appid', host.appId)}${a('version', host.version)}${a('track', host.track)}${a('bootid', host.bootId)}` +
    `${a('oem', host.oem)}${a('oemversion', host.oemVersion)}${a('alephversion', host.alephVersion)}${a('machineid', host.machineId)}` +
    `${a('machinealias', '')}${a('lang', 'en-US')}${a('board', host.board)}${a('hardware_class', '')} delta_okay="false">\n` +
    body +
    ' </app>\n</request>\n';
}

/** What the server's answer means for this host. */
export type OmahaAnswer = {
  /** Seconds the server asks to wait before the next check (`updatecheck@PollInterval`), when it says. */
  pollIntervalSec?: number;
  /** `daystart@elapsed_seconds`: seconds since the server's midnight, when it says. */
  elapsedSeconds?: number;
} & (
  | { status: 'noupdate' }
  /** A refusal: `error-…` on the app or its updatecheck (updates disabled, unknown app, internal error…). */
  | { status: `error-${string}` }
  | { status: 'ok'; offer: OmahaOffer }
);

export interface OmahaOffer {
  version: string;
  /** Each codebase URL with the package name appended, in the server's order. */
  urls: string[];
  packageName: string;
  size: number;
  /** sha256 of the payload, base64 as sent, and as hex. */
  sha256Base64: string;
  sha256: string;
}

function invalid(subject: string, message: string): AgentError {
  return new AgentError({
    code: 'update.omaha-bad-response',
    message: `the Omaha response is not usable: ${message}`,
    subject,
    hint: 'The update server must answer an Omaha 3.0 response (Nebraska, CoreUpdate); check coreos.update.server and the server\'s package for this group',
  });
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Hex of standard base64 `text`, or undefined when it is not base64. */
export function base64ToHex(text: string): string | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  let bits = 0;
  let value = 0;
  let hex = '';
  for (const c of text.replace(/=+$/, '')) {
    value = (value << 6) | B64.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      hex += ((value >> bits) & 0xff).toString(16).padStart(2, '0');
    }
  }
  return hex;
}

function sameAppId(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/^\{|\}$/g, '').toLowerCase();
  return norm(a) === norm(b);
}

function nonNegativeInt(text: string | undefined): number | undefined {
  return text !== undefined && /^[0-9]{1,9}$/.test(text) ? Number(text) : undefined;
}

/** The response to an update check, checked as update_engine's OmahaRequestAction checks it. */
export function parseOmahaResponse(text: string, appId: string, subject: string): OmahaAnswer {
  let root: XmlElement;
  try {
    root = parseXml(text);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw invalid(subject, `not well-formed XML (${e.message})`);
    throw e;
  }
  if (root.name !== 'response') throw invalid(subject, `the root element is <${root.name}>, not <response>`);
  if (root.attributes.protocol !== '3.0') throw invalid(subject, `protocol ${JSON.stringify(root.attributes.protocol ?? null)} is not "3.0"`);
  const app = childrenNamed(root, 'app').find((e) => sameAppId(e.attributes.appid ?? '', appId));
  if (!app) throw invalid(subject, `it has no <app> for the application ${appId}`);
  const elapsed = nonNegativeInt(findPath(root, 'daystart')?.attributes.elapsed_seconds);
  const timing = elapsed !== undefined ? { elapsedSeconds: elapsed } : {};
  const appStatus = app.attributes.status;
  if (appStatus !== undefined && appStatus.startsWith('error-')) return { status: appStatus as `error-${string}`, ...timing };
  const check = findPath(app, 'updatecheck');
  if (!check) throw invalid(subject, 'the <app> has no <updatecheck>');
  const poll = nonNegativeInt(check.attributes.PollInterval);
  if (poll !== undefined && poll > 0) Object.assign(timing, { pollIntervalSec: poll });
  const status = check.attributes.status;
  if (status === undefined) throw invalid(subject, '<updatecheck> has no status');
  if (status === 'noupdate') return { status, ...timing };
  if (status.startsWith('error-')) return { status: status as `error-${string}`, ...timing };
  if (status !== 'ok') throw invalid(subject, `unknown updatecheck status "${status}" (ok, noupdate or error-… expected)`);

  const manifest = findPath(check, 'manifest');
  if (!manifest) throw invalid(subject, 'status ok without a <manifest>');
  const version = manifest.attributes.version ?? '';
  if (!isVersion(version)) throw invalid(subject, `manifest version ${JSON.stringify(version)} is not a version`);
  const urlNodes = childrenNamed(findPath(check, 'urls') ?? { name: '', attributes: {}, children: [] }, 'url');
  if (urlNodes.length === 0) throw invalid(subject, 'status ok without <urls><url codebase>');
  const codebases = urlNodes.map((u) => u.attributes.codebase ?? '');
  if (codebases.some((c) => c === '')) throw invalid(subject, 'a <url> has an empty codebase');
  const pkg = findPath(manifest, 'packages', 'package');
  if (!pkg) throw invalid(subject, 'the manifest has no <packages><package>');
  const packageName = pkg.attributes.name ?? '';
  if (packageName === '') throw invalid(subject, 'the package has an empty name');
  const sizeText = pkg.attributes.size ?? '';
  const size = /^[0-9]{1,15}$/.test(sizeText) ? Number(sizeText) : 0;
  if (size <= 0) throw invalid(subject, `the package size ${JSON.stringify(pkg.attributes.size ?? null)} is not a number above 0`);
  const actions = childrenNamed(findPath(manifest, 'actions') ?? { name: '', attributes: {}, children: [] }, 'action');
  const postinstall = actions.find((x) => x.attributes.event === 'postinstall');
  if (!postinstall) throw invalid(subject, 'the manifest has no <action event="postinstall">');
  const sha256Base64 = postinstall.attributes.sha256 ?? '';
  const sha256 = base64ToHex(sha256Base64);
  if (sha256Base64 === '' || sha256 === undefined || sha256.length !== 64) throw invalid(subject, `the postinstall action's sha256 ${JSON.stringify(sha256Base64)} is not 32 bytes in base64`);
  const urls = codebases.map((c) => `${c.endsWith('/') ? c : `${c}/`}${packageName}`);
  return { status: 'ok', offer: { version, urls, packageName, size, sha256Base64, sha256 }, ...timing };
}

/** update_engine's errorcode for an agent error code. */
export function omahaErrorCode(code: string): number {
  switch (code) {
    case 'update.fetch-failed':
    case 'update.download-too-slow':
      return ERROR_CODE.downloadTransferError;
    case 'update.hash-mismatch':
    case 'update.readback-mismatch':
      return ERROR_CODE.payloadHashMismatch;
    case 'update.size-mismatch':
    case 'update.too-large':
      return ERROR_CODE.payloadSizeMismatch;
    case 'update.bad-signature':
    case 'update.no-keys':
      return ERROR_CODE.payloadVerificationError;
    case 'update.omaha-bad-response':
      return ERROR_CODE.omahaResponseInvalid;
    default:
      return ERROR_CODE.error;
  }
}

/**
 * The event a transition of the update machine reports, as update_engine reports it:
 * 13/1 when the download starts, 14/1 when it is complete, 3/1 once staged, 3/0 with an
 * errorcode on a failure (a cancel asked for by the operator is no failure).
 */
export function omahaEventFor(prev: UpdateState, next: UpdateState): OmahaEvent | undefined {
  if (next.kind === 'DOWNLOADING' && prev.kind === 'UPDATE_AVAILABLE') return { type: EVENT_TYPE.downloadStarted, result: EVENT_RESULT.success };
  if (next.kind === 'VERIFYING' && prev.kind === 'DOWNLOADING') return { type: EVENT_TYPE.downloadFinished, result: EVENT_RESULT.success };
  if (next.kind === 'UPDATED_NEED_REBOOT' && prev.kind === 'FINALIZING') return { type: EVENT_TYPE.updateComplete, result: EVENT_RESULT.success };
  if (next.kind === 'REPORTING_ERROR_EVENT' && prev.kind !== 'REPORTING_ERROR_EVENT' && next.error.code !== 'update.cancelled') {
    return { type: EVENT_TYPE.updateComplete, result: EVENT_RESULT.error, errorCode: omahaErrorCode(next.error.code) };
  }
  return undefined;
}

/**
 * The events due with the first check after a reboot that followed a staged update:
 * 3/2 with the version it came from, or — still running that version — 3/0 errorcode 44
 * (the bootloader fell back). None when nothing was staged before the boot.
 */
export function afterRebootEvents(previousVersion: string | undefined, running: string): OmahaEvent[] {
  if (previousVersion === undefined) return [];
  if (previousVersion === running) return [{ type: EVENT_TYPE.updateComplete, result: EVENT_RESULT.error, errorCode: ERROR_CODE.rollback }];
  return [{ type: EVENT_TYPE.updateComplete, result: EVENT_RESULT.successReboot, previousVersion }];
}

export const UPDATE_PROTOCOLS = ['omaha', 'release'] as const;
export type UpdateProtocol = (typeof UPDATE_PROTOCOLS)[number];

/**
 * Which protocol the update server speaks: the `host-agent.update.protocol` setting when
 * given, else Omaha when the URL's path is `/v1/update` or `/v1/update/` (Flatcar's public
 * server and Nebraska), else the signed release.json channel.
 */
export function updateProtocolOf(server: string, setting?: UpdateProtocol): UpdateProtocol {
  if (setting) return setting;
  const path = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(\/[^?#]*)?/i.exec(server)?.[1] ?? '';
  return /\/v1\/update\/?$/.test(path) ? 'omaha' : 'release';
}
