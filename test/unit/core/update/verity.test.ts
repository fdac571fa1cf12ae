import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRelease } from '../../../../agent/core/update/release.js';
import { hashTreeBytes, parseVerity, verityCmdline, verityCoveredRanges, verityUncoveredRanges } from '../../../../agent/core/update/verity.js';
import { bootEntryOptions, readBootEntryOptions, renderBootEntry } from '../../../../agent/core/update/boot-entry.js';

const ROOT = 'e6f6859140d1117f0c8f4c8cf411676f6482b4b4b7fa51562ee080c0ad294622';
/** 768 data blocks of 4 KiB, tree appended after them: superblock + 7 tree blocks. */
const appended = { rootHash: ROOT.toUpperCase(), salt: '00112233', dataBlocks: 768, hashTree: 'appended', hashOffset: 768 * 4096 };
const SIZE = 768 * 4096 + 8 * 4096;

test('hash tree sizes match what veritysetup format reports ("Hash blocks")', () => {
  // [dataBlocks, algorithm, hashBlockSize, hash blocks printed by veritysetup 2.6.1]
  const table = [[1, 'sha256', 4096, 0], [128, 'sha256', 4096, 1], [129, 'sha256', 4096, 3], [768, 'sha256', 4096, 7], [1024, 'sha256', 4096, 9],
    [16385, 'sha256', 4096, 132], [1000, 'sha512', 4096, 17], [1000, 'sha1', 512, 68], [100, 'sha256', 1024, 5]] as const;
  for (const [dataBlocks, hashAlgorithm, hashBlockSize, blocks] of table) {
    assert.equal(hashTreeBytes({ dataBlocks, hashAlgorithm, hashBlockSize }), blocks * hashBlockSize, `${dataBlocks} ${hashAlgorithm} ${hashBlockSize}`);
  }
});

test('payload.verity: defaults, lower-cased hex, both layouts', () => {
  assert.deepEqual(parseVerity(appended, SIZE), {
    rootHash: ROOT, salt: '00112233', hashAlgorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataBlocks: 768,
    hashTree: 'appended', hashOffset: 768 * 4096, superblock: true,
  });
  const partition = parseVerity({ rootHash: ROOT, dataBlocks: 768, hashTree: 'partition', superblock: false }, 768 * 4096 + 7 * 4096);
  assert.equal(partition.hashOffset, 0);
  assert.equal(partition.salt, '');
  const sha512 = parseVerity({ rootHash: 'ab'.repeat(64), hashAlgorithm: 'sha512', dataBlocks: 1, hashTree: 'partition', superblock: false }, 4096);
  assert.equal(sha512.hashAlgorithm, 'sha512');
});

test('a release carries its verity; bad verity fields are update.bad-manifest', () => {
  const release = { version: '2.0.0', expires: '2027-01-31T00:00:00Z', payload: { url: 'usr.img', size: SIZE, sha512: 'ab'.repeat(64), verity: appended } };
  assert.equal(parseRelease(release, 'u').payload.verity?.rootHash, ROOT);
  assert.equal(parseRelease({ ...release, payload: { ...release.payload, verity: undefined } }, 'u').payload.verity, undefined);
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'yes', /not an object/],
    ['short root hash', { ...appended, rootHash: ROOT.slice(2) }, /rootHash is not 64 hex digits/],
    ['sha512 root hash for sha256', { ...appended, rootHash: 'ab'.repeat(64) }, /rootHash is not 64 hex/],
    ['no root hash', { ...appended, rootHash: undefined }, /rootHash/],
    ['odd salt', { ...appended, salt: '001' }, /salt/],
    ['salt not hex', { ...appended, salt: 'zz' }, /salt/],
    ['salt too long', { ...appended, salt: 'ab'.repeat(257) }, /salt/],
    ['algorithm', { ...appended, hashAlgorithm: 'md5' }, /hashAlgorithm/],
    ['block size', { ...appended, dataBlockSize: 3000 }, /dataBlockSize/],
    ['hash block size', { ...appended, hashBlockSize: 256 }, /hashBlockSize/],
    ['no data blocks', { ...appended, dataBlocks: 0 }, /dataBlocks/],
    ['layout', { ...appended, hashTree: 'fec' }, /hashTree/],
    ['no hash offset', { ...appended, hashOffset: undefined }, /hashOffset/],
    ['hash offset inside the data', { ...appended, hashOffset: 4096 }, /hashOffset/],
    ['hash offset not 512-aligned', { ...appended, hashOffset: 768 * 4096 + 100 }, /hashOffset/],
    ['hash offset with a partition', { ...appended, hashTree: 'partition' }, /hashOffset must be absent or 0/],
    ['superblock', { ...appended, superblock: 'yes' }, /superblock/],
    ['unknown field', { ...appended, fecRoots: 2 }, /unknown field "fecRoots"/],
    ['truncated: tree past the payload', { ...appended, dataBlocks: 769 }, /hashOffset|past the payload/],
  ];
  for (const [what, verity, message] of bad) {
    assert.throws(() => parseRelease({ ...release, payload: { ...release.payload, verity } }, 'http://x/release.json'), { code: 'update.bad-manifest', subject: 'http://x/release.json', message }, what);
  }
  assert.throws(() => parseRelease({ ...release, payload: { ...release.payload, size: SIZE - 1 } }, 'u'), { code: 'update.bad-manifest', message: /past the payload's/ }, 'truncated image');
});

test('the boot entry: the slot, verity.usrhash= and the layout in systemd-veritysetup options', () => {
  const v = parseVerity(appended, SIZE);
  assert.deepEqual(verityCmdline(v, 'aa', 'aa'), [
    `verity.usrhash=${ROOT}`, 'systemd.verity_usr_data=PARTUUID=aa', 'systemd.verity_usr_hash=PARTUUID=aa',
    `systemd.verity_usr_options=hash=sha256,data-block-size=4096,hash-block-size=4096,data-blocks=768,hash-offset=${768 * 4096},superblock=true,salt=00112233`,
  ]);
  const entry = { label: 'USR-B', version: '2.0.0', partUuid: 'aa', verity: { verity: v, hashPartUuid: 'aa' } };
  const text = renderBootEntry(entry);
  assert.match(text, /^title host-agent USR-B 2\.0\.0$/m);
  assert.deepEqual(readBootEntryOptions(text), bootEntryOptions(entry));
  assert.deepEqual(bootEntryOptions({ label: 'USR-A', version: '1', partUuid: 'bb' }), ['mount.usr=PARTUUID=bb']);
  assert.deepEqual(readBootEntryOptions('title x\n'), []);
});

test('what veritysetup reads back: the data and the tree, not a superblock nor padding', () => {
  const D = 768 * 4096;
  const v = parseVerity(appended, SIZE + 4096);
  assert.deepEqual(verityCoveredRanges(v), [[0, D], [D + 4096, D + 8 * 4096]]);
  assert.deepEqual(verityUncoveredRanges(v, SIZE + 4096), [[D, D + 4096], [SIZE, SIZE + 4096]], 'the superblock and the padding');
  const bare = parseVerity({ ...appended, superblock: false }, D + 7 * 4096);
  assert.deepEqual(verityUncoveredRanges(bare, D + 7 * 4096), [], 'every byte covered');
  const gap = parseVerity({ ...appended, hashOffset: D + 512, superblock: false }, D + 512 + 7 * 4096);
  assert.deepEqual(verityUncoveredRanges(gap, D + 512 + 7 * 4096), [[D, D + 512]]);
  const partition = parseVerity({ rootHash: ROOT, dataBlocks: 768, hashTree: 'partition' }, SIZE);
  assert.deepEqual(verityUncoveredRanges(partition, SIZE), [[D, D + 4096]]);
});
