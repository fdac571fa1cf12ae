import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  afterRebootEvents,
  base64ToHex,
  COREOS_APP_ID,
  omahaEventFor,
  omahaRequestXml,
  parseOmahaResponse,
  updateProtocolOf,
  type OmahaHost,
} from '../../../../agent/core/update/omaha.js';
import { parseXml, XmlSyntaxError } from '../../../../agent/core/update/omaha-xml.js';
import { initialState, type UpdateState } from '../../../../agent/core/update/machine.js';
import type { Release } from '../../../../agent/core/update/release.js';

const HOST: OmahaHost = {
  appId: COREOS_APP_ID, version: '1.0.0', track: 'stable', machineId: '0123456789abcdef0123456789abcdef',
  bootId: '{7b6b3c1e-5b5e-4d7c-9f3a-1f2e3d4c5b6a}', board: 'amd64-usr', alephVersion: '0.9.0', oem: 'qemu', oemVersion: '',
};

const GOLDEN_CHECK = `<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="host-agent-0.1.0" updaterversion="host-agent-0.1.0" installsource="scheduler" ismachine="1">
 <os version="Chateau" platform="CoreOS" sp="1.0.0_x86_64"></os>
 <app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="1.0.0" track="stable" bootid="{7b6b3c1e-5b5e-4d7c-9f3a-1f2e3d4c5b6a}" oem="qemu" oemversion="" alephversion="0.9.0" machineid="0123456789abcdef0123456789abcdef" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false">
    <ping active="1"></ping>
    <updatecheck></updatecheck>
    <event eventtype="3" eventresult="2" previousversion="0.9.0"></event>
 </app>
</request>
`;

/** update_engine's (Flatcar) GetRequestXml / GetAppXml / GetOsXml attributes, in its order. */
const UPDATE_ENGINE_ATTRIBUTES = {
  request: ['protocol', 'version', 'updaterversion', 'installsource', 'ismachine'],
  os: ['version', 'platform', 'sp'],
  app: ['appid', 'version', 'track', 'bootid', 'oem', 'oemversion', 'alephversion', 'machineid', 'machinealias', 'lang', 'board', 'hardware_class', 'delta_okay'],
};

const attributeOrder = (xml: string, tag: string): string[] =>
  [...(new RegExp(`<${tag}\\s([^>]*)>`).exec(xml)?.[1] ?? '').matchAll(/([a-z_]+)="/g)].map((m) => m[1]!);

test('the check request is the golden document, with update_engine\'s attributes in its order', () => {
  const xml = omahaRequestXml(HOST, { kind: 'check', events: afterRebootEvents('0.9.0', '1.0.0'), interactive: false });
  assert.equal(xml, GOLDEN_CHECK);
  for (const [tag, names] of Object.entries(UPDATE_ENGINE_ATTRIBUTES)) assert.deepEqual(attributeOrder(xml, tag), names, tag);
  const parsed = parseXml(xml);
  assert.equal(parsed.name, 'request');
  assert.equal(parsed.attributes.protocol, '3.0');
});

test('event requests carry one event; errorcode only on failure; values are escaped', () => {
  const xml = omahaRequestXml({ ...HOST, track: 'a"b<c&' }, { kind: 'event', event: { type: 3, result: 0, errorCode: 44 } });
  assert.match(xml, /<event eventtype="3" eventresult="0" errorcode="44"><\/event>/);
  assert.doesNotMatch(xml, /<updatecheck|<ping/);
  assert.match(xml, /track="a&quot;b&lt;c&amp;"/);
  assert.equal(parseXml(xml).children[1]!.attributes.track, 'a"b<c&');
  assert.match(omahaRequestXml(HOST, { kind: 'check', events: [], interactive: true }), /installsource="ondemandupdate"/);
});

test('after a reboot: 3/2 with the previous version, 3/0 errorcode 44 when still on it, nothing otherwise', () => {
  assert.deepEqual(afterRebootEvents('1.0.0', '2.0.0'), [{ type: 3, result: 2, previousVersion: '1.0.0' }]);
  assert.deepEqual(afterRebootEvents('1.0.0', '1.0.0'), [{ type: 3, result: 0, errorCode: 44 }]);
  assert.deepEqual(afterRebootEvents(undefined, '1.0.0'), []);
});

const release: Release = { version: '2.0.0', expires: '2030-01-01T00:00:00Z', payload: { url: 'x', size: 10, sha256: 'ab', compression: 'none' } };
const s = (kind: UpdateState['kind'], more: object = {}): UpdateState => ({ ...initialState, kind, release, target: 'B', ...more } as UpdateState);

test('the engine\'s transitions map to 13/1, 14/1, 3/1 and 3/0 with update_engine\'s error codes', () => {
  assert.deepEqual(omahaEventFor(s('UPDATE_AVAILABLE'), s('DOWNLOADING')), { type: 13, result: 1 });
  assert.equal(omahaEventFor(s('DOWNLOADING'), s('DOWNLOADING')), undefined, 'progress is no event');
  assert.deepEqual(omahaEventFor(s('DOWNLOADING'), s('VERIFYING')), { type: 14, result: 1 });
  assert.deepEqual(omahaEventFor(s('FINALIZING'), s('UPDATED_NEED_REBOOT')), { type: 3, result: 1 });
  assert.equal(omahaEventFor(s('IDLE'), s('UPDATED_NEED_REBOOT')), undefined, 'a restored staged update is no new event');
  const err = (code: string) => omahaEventFor(s('DOWNLOADING'), s('REPORTING_ERROR_EVENT', { error: { code, message: '' }, during: 'DOWNLOADING' }));
  assert.deepEqual(err('update.hash-mismatch'), { type: 3, result: 0, errorCode: 10 });
  assert.deepEqual(err('update.bad-signature'), { type: 3, result: 0, errorCode: 12 });
  assert.deepEqual(err('update.fetch-failed'), { type: 3, result: 0, errorCode: 9 });
  assert.deepEqual(err('update.internal'), { type: 3, result: 0, errorCode: 1 });
  assert.equal(err('update.cancelled'), undefined, 'a cancel asked for is no failure');
});

const SHA = Buffer.alloc(32, 7).toString('base64');
const ok = (inner = '', attrs = '') => `<?xml version="1.0" encoding="UTF-8"?>
<response protocol="3.0" server="nebraska">
  <daystart elapsed_seconds="49007"/>
  <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="ok">
    <updatecheck status="ok"${attrs}>
      <urls><url codebase="https://a.example/flatcar/2.0.0"/><url codebase="https://b.example/mirror/"/></urls>
      <manifest version="2.0.0">
        <packages><package name="flatcar_production_update.gz" hash="x" size="465881871" required="true"/></packages>
        <actions><action event="postinstall" sha256="${SHA}" needsadmin="false"/>${inner}</actions>
      </manifest>
    </updatecheck>
  </app>
</response>`;

test('an ok answer: codebases joined with the package name, size, sha256 base64 → hex, PollInterval, daystart', () => {
  const a = parseOmahaResponse(ok('', ' PollInterval="7200"'), COREOS_APP_ID, 'srv');
  assert.equal(a.status, 'ok');
  assert.ok(a.status === 'ok');
  assert.deepEqual(a.offer, {
    version: '2.0.0',
    urls: ['https://a.example/flatcar/2.0.0/flatcar_production_update.gz', 'https://b.example/mirror/flatcar_production_update.gz'],
    packageName: 'flatcar_production_update.gz', size: 465881871, sha256Base64: SHA, sha256: '07'.repeat(32),
  });
  assert.equal(a.pollIntervalSec, 7200);
  assert.equal(a.elapsedSeconds, 49007);
});

test('noupdate and the server\'s error statuses are answers, not failures', () => {
  const wrap = (app: string, check: string) => `<response protocol="3.0"><app appid="${COREOS_APP_ID}" status="${app}"><updatecheck status="${check}"/></app></response>`;
  assert.deepEqual(parseOmahaResponse(wrap('ok', 'noupdate'), COREOS_APP_ID, 's'), { status: 'noupdate' });
  for (const e of ['error-updatesDisabled', 'error-maxUpdatesPerPeriodLimitReached', 'error-unknownApplicationOrGroup', 'error-updateInProgressOnInstance']) {
    assert.deepEqual(parseOmahaResponse(wrap(e, 'error-internal'), COREOS_APP_ID, 's'), { status: e }, e);
  }
  assert.deepEqual(parseOmahaResponse(wrap('ok', 'error-internal'), COREOS_APP_ID, 's'), { status: 'error-internal' });
});

test('anything update_engine would refuse is update.omaha-bad-response, saying what is wrong', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['not XML', 'HTTP/1.1 200', /not well-formed/],
    ['another root', '<html></html>', /not <response>/],
    ['protocol 2.0', '<response protocol="2.0"/>', /not "3.0"/],
    ['another app', ok().replace('e96281a6', 'ffffffff'), /no <app> for/],
    ['no status', ok().replace('updatecheck status="ok"', 'updatecheck'), /no status/],
    ['unknown status', ok().replace('status="ok">\n      <urls', 'status="maybe">\n      <urls'), /unknown updatecheck status "maybe"/],
    ['no manifest version', ok().replace('manifest version="2.0.0"', 'manifest'), /manifest version/],
    ['no urls', ok().replace(/<urls>.*<\/urls>/, ''), /<urls>/],
    ['empty codebase', ok().replace('codebase="https://a.example/flatcar/2.0.0"', 'codebase=""'), /empty codebase/],
    ['no package name', ok().replace('name="flatcar_production_update.gz"', ''), /empty name/],
    ['size 0', ok().replace('size="465881871"', 'size="0"'), /size "0"/],
    ['size missing', ok().replace('size="465881871"', ''), /size null/],
    ['no postinstall', ok().replace('event="postinstall"', 'event="install"'), /postinstall/],
    ['empty sha256', ok().replace(`sha256="${SHA}"`, 'sha256=""'), /sha256 ""/],
    ['short sha256', ok().replace(`sha256="${SHA}"`, 'sha256="AAAA"'), /32 bytes/],
    ['a DOCTYPE', `<!DOCTYPE x [<!ENTITY a "b">]>${ok().replace(/^<\?xml[^>]*>/, '')}`, /DOCTYPE/],
  ];
  for (const [what, text, message] of bad) {
    assert.throws(() => parseOmahaResponse(text, COREOS_APP_ID, 'https://srv/v1/update/'), (e: any) => {
      assert.equal(e.code, 'update.omaha-bad-response', what);
      assert.match(e.message, message, what);
      assert.equal(e.subject, 'https://srv/v1/update/');
      return true;
    }, what);
  }
});

test('the XML subset: entities, quotes, comments; refusals with offsets', () => {
  const e = parseXml(`<?xml version='1.0'?><!-- c --><a x='1 &amp; &#x41;&#66;' y="&lt;&gt;&quot;&apos;"><b/><!-- d --><c></c></a>\n`);
  assert.deepEqual(e.attributes, { x: '1 & AB', y: '<>"\'' });
  assert.deepEqual(e.children.map((c) => c.name), ['b', 'c']);
  for (const [text, message] of [
    ['<a><b></a>', /<\/a> closes <b>/], ['<a x="1" x="2"/>', /twice/], ['<a x=1/>', /quoted/], ['<a>text</a>', /text inside/],
    ['<a x="&foo;"/>', /entity/], ['<a x="&"/>', /bare "&"/], ['<a/><b/>', /after the root/], ['<a><![CDATA[x]]></a>', /CDATA/],
    ['', /empty/], ['<a x="&#0;"/>', /names no character/], ['<a', /expected/],
  ] as const) {
    assert.throws(() => parseXml(text), (err: unknown) => err instanceof XmlSyntaxError && message.test(err.message), text);
  }
  assert.throws(() => parseXml('<a>'.repeat(40) + '</a>'.repeat(40)), /deeper than 32/);
});

test('base64 → hex, and refusals', () => {
  assert.equal(base64ToHex('AAEC/w=='), '000102ff');
  assert.equal(base64ToHex('AAEC/w'), undefined);
  assert.equal(base64ToHex('A*=='), undefined);
});

test('the protocol: the setting wins, else Omaha for a /v1/update/ path', () => {
  assert.equal(updateProtocolOf('https://public.update.flatcar-linux.net/v1/update/'), 'omaha');
  assert.equal(updateProtocolOf('http://nebraska:8000/v1/update'), 'omaha');
  assert.equal(updateProtocolOf('https://updates.example.com/v1'), 'release');
  assert.equal(updateProtocolOf('https://updates.example.com/v1/update/stable'), 'release');
  assert.equal(updateProtocolOf('https://omaha.example.com/', 'omaha'), 'omaha');
  assert.equal(updateProtocolOf('https://x/v1/update/', 'release'), 'release');
});
