/**
 * The pure checks of every state file: what a damaged or structurally wrong file becomes
 * (accepted, repaired by dropping entries, or refused), one table per file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkImageInfo, checkIndex } from '../../../../agent/host/images/store.js';
import { checkFetchMemo } from '../../../../agent/host/images/fetch-memo.js';
import { checkFailedVersions } from '../../../../agent/host/update/failed-versions.js';
import { checkJournal } from '../../../../agent/host/update/journal.js';
import { checkLastGood } from '../../../../agent/host/config/last-good.js';
import { checkImageUpdateRecords } from '../../../../agent/daemon/image-updates.js';
import { checkHeldRecord } from '../../../../agent/daemon/reboot-coordinator.js';
import { parseLockOwner } from '../../../../agent/host/fs/owner-lock.js';
import { corruptPathFor, keepValid, type Checked } from '../../../../agent/host/fs/state-file.js';
import { formatBytes } from '../../../../agent/host/fs/disk-full.js';

const ID = `sha512-${'a'.repeat(128)}`;
const OTHER = `sha512-${'b'.repeat(128)}`;
const WRONG_SHAPES: unknown[] = [null, 3, 'text', [], true];

const refused = <T>(c: Checked<T>): boolean => 'refused' in c;
const dropped = <T>(c: Checked<T>): string | undefined => ('value' in c ? c.dropped : undefined);

const META = { id: ID, name: 'example.com/web', labels: [{ name: 'version', value: '1.0' }], size: 10, imported: '2026-01-01T00:00:00.000Z', lastUsed: null, source: '/x.aci', signer: 'ab12' };

test('meta.json: a whole record of this image is accepted; anything else is refused', () => {
  // A meta.json written before OCI support has no format: the image is appc.
  assert.deepEqual(checkImageInfo(META, ID), { value: { ...META, format: 'appc' } });
  assert.deepEqual(checkImageInfo({ ...META, extra: 1 }, ID), { value: { ...META, format: 'appc' } }, 'unknown fields are not kept');
  const oci = `sha256-${'c'.repeat(64)}`;
  assert.deepEqual(checkImageInfo({ ...META, id: oci, format: 'oci' }, oci), { value: { ...META, id: oci, format: 'oci' } });
  for (const bad of [...WRONG_SHAPES, { ...META, id: OTHER }, { ...META, format: 'docker' }, { ...META, name: 3 }, { ...META, labels: [null] }, { ...META, size: -1 },
    { ...META, imported: 'yesterday' }, { ...META, lastUsed: 5 }, { ...META, signer: 'not hex' }, { ...META, signer: undefined }, {}]) {
    assert.ok(refused(checkImageInfo(bad, ID)), JSON.stringify(bad));
  }
  assert.match((checkImageInfo({ ...META, id: OTHER, size: 'x' }, ID) as { refused: string }).refused, /id is not .*size is not a byte count/);
});

test('index.json: bad entries are dropped, a wrong shape is refused', () => {
  const entry = { name: 'a', labels: [], id: ID };
  assert.deepEqual(checkIndex({ images: [entry] }), { value: [entry] });
  assert.deepEqual(checkIndex({ images: [null, entry, { name: 'b', labels: [], id: 'sha512-short' }] }), { value: [entry], dropped: '2 of 3 entries' });
  for (const bad of [...WRONG_SHAPES, {}, { images: null }, { images: {} }]) assert.ok(refused(checkIndex(bad)), JSON.stringify(bad));
});

test('fetched.json: bad entries are dropped, a wrong shape is refused', () => {
  const entry = { url: 'https://x/y.aci', signatureSha256: 'c'.repeat(64), id: ID };
  assert.deepEqual(checkFetchMemo({ fetched: [entry] }), { value: [entry] });
  assert.equal(dropped(checkFetchMemo({ fetched: [entry, null, { ...entry, id: 3 }, { ...entry, signatureSha256: 'zz' }] })), '3 of 4 entries');
  for (const bad of [...WRONG_SHAPES, { fetched: null }, {}]) assert.ok(refused(checkFetchMemo(bad)), JSON.stringify(bad));
});

test('failed-versions.json: non-strings are dropped, a wrong shape is refused', () => {
  assert.deepEqual(checkFailedVersions({ versions: ['1.0.0', '1.1.0'] }), { value: ['1.0.0', '1.1.0'] });
  assert.deepEqual(checkFailedVersions({ versions: ['1.0.0', 3, null, ''] }), { value: ['1.0.0'], dropped: '3 of 4 versions' });
  for (const bad of [...WRONG_SHAPES, { versions: 'x' }, {}]) assert.ok(refused(checkFailedVersions(bad)), JSON.stringify(bad));
});

test('staging journal: all fields or refused', () => {
  const j = { phase: 'writing', version: '2.0.0', sha512: 'a', size: 10, partUuid: 'p', verifiedBytes: 0, prefixSha512: 'b' };
  assert.deepEqual(checkJournal(j), { value: j });
  for (const bad of [...WRONG_SHAPES, { ...j, phase: 'done' }, { ...j, size: '10' }, { ...j, verifiedBytes: 1.5 }]) assert.ok(refused(checkJournal(bad)), JSON.stringify(bad));
});

test('last good configuration: all files or refused (a partial configuration is another configuration)', () => {
  const good = { format: 1, savedAt: '2026-01-01T00:00:00.000Z', sources: [{ file: '/etc/x.yaml', text: '#cloud-config\n' }, { text: 'x' }] };
  assert.deepEqual(checkLastGood(good), { value: { savedAt: good.savedAt, sources: good.sources } });
  for (const bad of [...WRONG_SHAPES, { ...good, format: 2 }, { ...good, savedAt: 1 }, { ...good, sources: [{ file: 3, text: '' }] }, { ...good, sources: [null] }]) {
    assert.ok(refused(checkLastGood(bad)), JSON.stringify(bad));
  }
});

test('image update records: malformed records are dropped by container name', () => {
  const record = { declared: 'example.com/web', current: { id: ID, version: '1.1' }, failed: [{ id: OTHER, reason: 'failed', at: 'x' }] };
  assert.deepEqual(checkImageUpdateRecords({ containers: { web: record } }), { value: { web: record } });
  // A rollback with the container's last output (files written before it have none: above).
  const rolled = { ...record, last: { result: 'rolled back', message: 'rolled back', at: 'x', output: ['boom'] } };
  assert.deepEqual(checkImageUpdateRecords({ containers: { web: rolled } }), { value: { web: rolled } });
  const badOutput = checkImageUpdateRecords({ containers: { web: { ...rolled, last: { ...rolled.last, output: [1] } } } });
  assert.equal(dropped(badOutput), 'the records of container web');
  const c = checkImageUpdateRecords({ containers: { web: record, db: null, api: { declared: 'x', failed: [null] }, ui: { ...record, current: { id: '../../etc' } } } });
  assert.deepEqual('value' in c && Object.keys(c.value), ['web']);
  assert.equal(dropped(c), 'the records of containers db, api, ui');
  for (const bad of [...WRONG_SHAPES, { containers: [] }, {}]) assert.ok(refused(checkImageUpdateRecords(bad)), JSON.stringify(bad));
});

test('held reboot-lock record: backend, id and time, or refused', () => {
  assert.deepEqual(checkHeldRecord({ backend: 'fleetlock', id: 'm', at: 't' }), { value: { backend: 'fleetlock', id: 'm', at: 't' } });
  for (const bad of [...WRONG_SHAPES, { backend: 'zk', id: 'm', at: 't' }, { backend: 'etcd-lock' }]) assert.ok(refused(checkHeldRecord(bad)), JSON.stringify(bad));
});

test('lock file: "PID STARTTIME" or no owner', () => {
  assert.deepEqual(parseLockOwner('123 456\n'), { pid: 123, startTime: '456' });
  for (const bad of ['', '\n', 'garbage', '0 5\n', '-1 5\n', '12\n', '12 x\n', '12 5 7\n', '99999999999 5\n', '{"pid":1}']) {
    assert.equal(parseLockOwner(bad), undefined, JSON.stringify(bad));
  }
});

test('helpers: where a damaged file goes, entry filtering, byte counts', () => {
  assert.equal(corruptPathFor('/var/lib/x/index.json', new Date('2026-12-06T00:05:01.123Z')), '/var/lib/x/index.json.corrupt-20261206T000501.123Z');
  assert.deepEqual(keepValid([1, 'a', 2], (v): v is number => typeof v === 'number'), { kept: [1, 2], dropped: '1 of 3 entries' });
  assert.deepEqual(keepValid([1], (v): v is number => typeof v === 'number'), { kept: [1] });
  assert.equal(formatBytes(512), '512 bytes');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
});
