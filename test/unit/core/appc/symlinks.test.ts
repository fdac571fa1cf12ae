import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SYMLINK_HOPS, resolveSymlink } from '../../../../agent/core/appc/symlinks.js';

/** A tree's symlinks, by path below the root. */
function tree(links: Record<string, string>): (path: string) => string | undefined {
  return (path) => links[path];
}

const at = (path: string): string[] => path.split('/').filter((c) => c !== '');

test('a relative target resolves from the link\'s directory', () => {
  assert.deepEqual(resolveSymlink(at('usr/bin'), '../lib/x', tree({})), { kind: 'inside', path: ['usr', 'lib', 'x'] });
  assert.deepEqual(resolveSymlink(at('bin'), 'busybox', tree({})), { kind: 'inside', path: ['bin', 'busybox'] });
});

test('an absolute target starts at the image root', () => {
  assert.deepEqual(resolveSymlink(at('a/b'), '/etc/passwd', tree({})), { kind: 'inside', path: ['etc', 'passwd'] });
  assert.deepEqual(resolveSymlink([], '/', tree({})), { kind: 'inside', path: [] });
});

test('chains are followed: a -> /, b -> a/etc/passwd stays in the root', () => {
  assert.deepEqual(resolveSymlink([], 'a/etc/passwd', tree({ a: '/' })), { kind: 'inside', path: ['etc', 'passwd'] });
  assert.deepEqual(resolveSymlink(at('x'), '../lib64/ld.so', tree({ lib64: 'usr/lib64', 'usr/lib64': '/usr/lib' })), { kind: 'inside', path: ['usr', 'lib', 'ld.so'] });
});

test('.. climbing above the root escapes, lexically or through a link', () => {
  assert.deepEqual(resolveSymlink(at('a'), '../../etc', tree({})), { kind: 'escape' });
  assert.deepEqual(resolveSymlink([], '/..', tree({})), { kind: 'escape' });
  // a -> / then ..: normalising "a/.." lexically would say "the root"; the kernel climbs from a's target
  assert.deepEqual(resolveSymlink([], 'a/../etc', tree({ a: '/' })), { kind: 'escape' });
  // l -> ../.. from d1/d2 is the root; m -> d1/d2/l/.. climbs above it
  assert.deepEqual(resolveSymlink([], 'd1/d2/l/..', tree({ 'd1/d2/l': '../..' })), { kind: 'escape' });
  assert.deepEqual(resolveSymlink([], 'd1/d2/l/x', tree({ 'd1/d2/l': '../..' })), { kind: 'inside', path: ['x'] });
});

test('.. after a link goes up from where the link leads, not from the link', () => {
  assert.deepEqual(resolveSymlink([], 'l/../y', tree({ l: 'a/b/c' })), { kind: 'inside', path: ['a', 'b', 'y'] });
});

test('loops and chains longer than the kernel follows do not resolve', () => {
  assert.deepEqual(resolveSymlink([], 'a', tree({ a: 'a' })), { kind: 'loop' });
  assert.deepEqual(resolveSymlink([], 'a', tree({ a: 'b', b: 'a' })), { kind: 'loop' });
  const chain = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, `l${i + 1}`]));
  // The link being resolved counts as the first of the 40.
  assert.deepEqual(resolveSymlink([], 'l0', tree(chain(MAX_SYMLINK_HOPS - 1))), { kind: 'inside', path: [`l${MAX_SYMLINK_HOPS - 1}`] });
  assert.deepEqual(resolveSymlink([], 'l0', tree(chain(MAX_SYMLINK_HOPS))), { kind: 'loop' });
});

test('. and empty components are ignored', () => {
  assert.deepEqual(resolveSymlink(at('a'), './/b/./', tree({})), { kind: 'inside', path: ['a', 'b'] });
});
