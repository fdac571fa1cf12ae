import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanPath, createLayoutChecker, type TarEntryHeader } from '../../../../agent/core/appc/layout.js';

const HINT = /only "manifest" and the directory "rootfs\/"/;

function check(entries: TarEntryHeader[]) {
  const checker = createLayoutChecker();
  const placed = entries.map((e) => checker.add(e));
  checker.finish();
  return placed;
}

function rejects(entries: TarEntryHeader[], message: string, subject?: string): void {
  assert.throws(() => check(entries), (e: any) => {
    assert.equal(e.code, 'appc.invalid-layout');
    assert.equal(e.message, message);
    assert.equal(e.subject, subject);
    assert.match(e.hint, HINT);
    return true;
  });
}

const dir = (name: string): TarEntryHeader => ({ name, type: 'directory' });
const file = (name: string): TarEntryHeader => ({ name, type: 'file' });

test('a valid layout, each entry placed', () => {
  const placed = check([dir('./'), file('manifest'), dir('rootfs/'), dir('rootfs/etc'), file('./rootfs/etc/os-release'), { name: 'rootfs/bin/sh', type: 'symlink' }]);
  assert.deepEqual(placed, [
    { kind: 'skip' },
    { kind: 'manifest' },
    { kind: 'rootfs', path: '' },
    { kind: 'rootfs', path: 'etc' },
    { kind: 'rootfs', path: 'etc/os-release' },
    { kind: 'rootfs', path: 'bin/sh' },
  ]);
});

test('paths are cleaned as Go filepath.Clean does', () => {
  const cases: [string, string][] = [
    ['', '.'], ['./', '.'], ['rootfs//a/./b/', 'rootfs/a/b'], ['rootfs/a/../b', 'rootfs/b'], ['rootfs/../../etc', '../etc'],
    ['/etc/passwd', '/etc/passwd'], ['/../x', '/x'], ['a/../..', '..'],
  ];
  for (const [input, clean] of cases) assert.equal(cleanPath(input), clean, input);
});

test('entries outside manifest and rootfs/ are refused at once', () => {
  rejects([file('manifest'), dir('rootfs'), file('README')], 'unrecognized file path in layout: "README"', 'README');
  rejects([file('manifest'), dir('rootfs'), file('rootfsx/a')], 'unrecognized file path in layout: "rootfsx/a"', 'rootfsx/a');
  rejects([file('manifest'), dir('rootfs'), file('rootfs/../../etc/passwd')], 'unrecognized file path in layout: "../etc/passwd"', 'rootfs/../../etc/passwd');
  rejects([file('manifest'), dir('rootfs'), file('/rootfs/etc/passwd')], 'unrecognized file path in layout: "/rootfs/etc/passwd"', '/rootfs/etc/passwd');
});

test('no entry twice, a second manifest included', () => {
  rejects([file('manifest'), dir('rootfs'), file('./manifest')], 'duplicate file entry in archive: manifest', './manifest');
  rejects([file('manifest'), dir('rootfs'), file('rootfs/a'), file('rootfs/./a')], 'duplicate file entry in archive: rootfs/a', 'rootfs/./a');
  rejects([file('manifest'), dir('rootfs'), dir('rootfs/')], 'duplicate file entry in archive: rootfs', 'rootfs/');
});

test('manifest is a regular file and rootfs a directory', () => {
  rejects([{ name: 'manifest', type: 'symlink' }, dir('rootfs')], 'manifest is not a regular file', 'manifest');
  rejects([file('manifest'), file('rootfs')], 'rootfs is not a directory', 'rootfs');
  check([{ name: 'manifest', type: null }, dir('rootfs')]);
});

test('manifest and rootfs are both required', () => {
  rejects([dir('rootfs'), file('rootfs/a')], 'no image manifest found in layout');
  rejects([file('manifest')], 'no rootfs found in layout');
  rejects([], 'no image manifest found in layout');
});
