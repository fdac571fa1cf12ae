/**
 * An Omaha 3.0 server on loopback for tests, written from the protocol as update_engine
 * speaks it and Nebraska answers it (no Omaha server can run on these machines). It keeps
 * Nebraska's model: an application, groups found by the request's `track`, one package per
 * group, instances registered by their ping and moved by their events (13/1 downloading,
 * 14/1 downloaded, 3/1 installed, 3/2 complete, 3/0 error), and a rollout policy per group:
 * updates enabled, safe mode (the first host of a new version alone until it completed; a
 * failure halts the rollout), at most N grants per period, office hours. A refusal is the
 * app status Nebraska sends (`error-updatesDisabled`, `error-maxUpdatesPerPeriodLimitReached`,
 * `error-maxConcurrentUpdatesLimitReached` (safe mode),
 * `error-updateInProgressOnInstance`, `error-unknownApplicationOrGroup`) with an updatecheck
 * of status `error-internal`; outside office hours it says `noupdate`.
 * Requests are read with regular expressions of its own (not the agent's XML parser), and
 * every request, event and grant is recorded for the tests. Stopped when the test ends.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface HasAfter {
  after(fn: () => unknown): void;
}

export interface OmahaPackage {
  version: string;
  /** File name, appended to `codebase`. */
  name: string;
  size: number;
  /** base64 sha256 of the payload. */
  sha256: string;
  /** Base URL the payload is served under (ends with /). */
  codebase: string;
}

export interface RolloutPolicy {
  updatesEnabled: boolean;
  safeMode: boolean;
  /** At most this many grants in any `periodMs`. */
  maxUpdatesPerPeriod: number;
  periodMs: number;
  /** Inside office hours at this time (ms); absent: always. */
  officeHours?: (now: number) => boolean;
}

export interface OmahaGroup {
  package?: OmahaPackage;
  policy: RolloutPolicy;
  /** Sent as updatecheck@PollInterval when set. */
  pollIntervalSec?: number;
}

export type InstanceStatus = 'registered' | 'granted' | 'downloading' | 'downloaded' | 'installed' | 'complete' | 'error';

export interface RecordedEvent {
  type: number;
  result: number;
  errorCode?: number;
  previousVersion?: string;
  /** The app version the request named. */
  version: string;
}

export interface Instance {
  machineId: string;
  version: string;
  track: string;
  status: InstanceStatus;
  /** The version granted last, if any. */
  granted?: string;
  events: RecordedEvent[];
}

export interface RecordedRequest {
  body: string;
  machineId: string;
  /** What the server answered to the updatecheck, if the request had one. */
  answer?: string;
}

export interface OmahaServer {
  url: string;
  appId: string;
  groups: Map<string, OmahaGroup>;
  instances: Map<string, Instance>;
  requests: RecordedRequest[];
  /** Every grant: machine id, version, time. */
  grants: Array<{ machineId: string; version: string; at: number }>;
  /** Replace the answer to the next update checks (a hostile or broken server). */
  override?: (request: string) => string | undefined;
}

const attr = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? m[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&') : undefined;
};

/** The one order every test version follows: numbers by number, dot by dot. */
function newer(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
}

const IN_FLIGHT: readonly InstanceStatus[] = ['granted', 'downloading', 'downloaded', 'installed'];

export function responseXml(appId: string, inner: string, appStatus = 'ok'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<response protocol="3.0" server="test-nebraska">\n <daystart elapsed_seconds="${Math.floor((Date.now() % 86_400_000) / 1000)}"></daystart>\n` +
    ` <app appid="${appId}" status="${appStatus}">\n${inner} </app>\n</response>\n`;
}

export function okUpdatecheck(p: OmahaPackage, pollIntervalSec?: number): string {
  return `  <updatecheck status="ok"${pollIntervalSec ? ` PollInterval="${pollIntervalSec}"` : ''}>\n   <urls><url codebase="${p.codebase}"></url></urls>\n` +
    `   <manifest version="${p.version}">\n    <packages><package name="${p.name}" hash="" size="${p.size}" required="true"></package></packages>\n` +
    `    <actions><action event="postinstall" sha256="${p.sha256}" DisablePayloadBackoff="true"></action></actions>\n   </manifest>\n  </updatecheck>\n`;
}

export async function startOmahaServer(t: HasAfter, appId: string, now: () => number = Date.now): Promise<OmahaServer> {
  const state: OmahaServer = { url: '', appId, groups: new Map(), instances: new Map(), requests: [], grants: [] };

  /** Nebraska's decision for an update check of `inst` in `group`: the answer's inner XML and app status. */
  const decide = (inst: Instance, group: OmahaGroup): { inner: string; appStatus: string; answer: string } => {
    const refuse = (status: string) => ({ inner: '  <updatecheck status="error-internal"></updatecheck>\n', appStatus: status, answer: status });
    const poll = group.pollIntervalSec ? ` PollInterval="${group.pollIntervalSec}"` : '';
    const none = { inner: `  <updatecheck status="noupdate"${poll}></updatecheck>\n`, appStatus: 'ok', answer: 'noupdate' };
    const p = group.package;
    if (!p || !newer(p.version, inst.version)) return none;
    const { policy } = group;
    if (!policy.updatesEnabled) return refuse('error-updatesDisabled');
    if (IN_FLIGHT.includes(inst.status) && inst.granted === p.version) return refuse('error-updateInProgressOnInstance');
    const same = [...state.instances.values()].filter((i) => i.track === inst.track && i.granted === p.version);
    if (policy.safeMode) {
      if (same.some((i) => i.status === 'error')) return refuse('error-updatesDisabled');
      if (!same.some((i) => i.status === 'complete') && same.length > 0) return refuse('error-maxConcurrentUpdatesLimitReached');
    }
    if (policy.officeHours && !policy.officeHours(now())) return none;
    const recent = state.grants.filter((g) => g.version === p.version && now() - g.at < policy.periodMs);
    if (recent.length >= policy.maxUpdatesPerPeriod) return refuse('error-maxUpdatesPerPeriodLimitReached');
    inst.status = 'granted';
    inst.granted = p.version;
    state.grants.push({ machineId: inst.machineId, version: p.version, at: now() });
    return { inner: okUpdatecheck(p, group.pollIntervalSec), appStatus: 'ok', answer: 'ok' };
  };

  const handle = (body: string): string => {
    const appTag = /<app\s[^>]*>/.exec(body)?.[0] ?? '';
    const machineId = attr(appTag, 'machineid') ?? '';
    const record: RecordedRequest = { body, machineId };
    state.requests.push(record);
    const reqAppId = attr(appTag, 'appid') ?? '';
    const track = attr(appTag, 'track') ?? '';
    const group = state.groups.get(track);
    if (reqAppId.toLowerCase() !== appId.toLowerCase() || !group) {
      record.answer = 'error-unknownApplicationOrGroup';
      return responseXml(reqAppId, '  <updatecheck status="error-internal"></updatecheck>\n', 'error-unknownApplicationOrGroup');
    }
    const version = attr(appTag, 'version') ?? '';
    let inst = state.instances.get(machineId);
    if (!inst) {
      inst = { machineId, version, track, status: 'registered', events: [] };
      state.instances.set(machineId, inst);
    }
    inst.version = version;
    inst.track = track;
    let inner = '';
    for (const [tag] of body.matchAll(/<event\s[^>]*>/g)) {
      const ev: RecordedEvent = { type: Number(attr(tag, 'eventtype')), result: Number(attr(tag, 'eventresult')), version };
      const code = attr(tag, 'errorcode');
      const prev = attr(tag, 'previousversion');
      if (code !== undefined) ev.errorCode = Number(code);
      if (prev !== undefined) ev.previousVersion = prev;
      inst.events.push(ev);
      const key = `${ev.type}/${ev.result}`;
      if (key === '13/1') inst.status = 'downloading';
      else if (key === '14/1') inst.status = 'downloaded';
      else if (key === '3/1') inst.status = 'installed';
      else if (key === '3/2') inst.status = 'complete';
      else if (ev.result === 0) inst.status = 'error';
      inner += '  <event status="ok"></event>\n';
    }
    if (/<ping\b/.test(body)) inner += '  <ping status="ok"></ping>\n';
    if (/<updatecheck\b/.test(body)) {
      const forced = state.override?.(body);
      if (forced !== undefined) {
        record.answer = 'override';
        return forced;
      }
      const d = decide(inst, group);
      record.answer = d.answer;
      return responseXml(appId, inner + d.inner, d.appStatus);
    }
    return responseXml(appId, inner);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/update')) {
        res.writeHead(404).end();
        return;
      }
      const out = handle(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/update/`;
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return state;
}
