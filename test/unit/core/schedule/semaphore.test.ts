import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatSemaphore,
  initialSemaphore,
  lockSemaphore,
  parseSemaphore,
  semaphoreKey,
  setSemaphoreMax,
  unlockSemaphore,
} from '../../../../agent/core/schedule/semaphore.js';

test('semaphore keys, with the group escaped as locksmith does (Go url.QueryEscape)', () => {
  assert.equal(semaphoreKey(), 'coreos.com/updateengine/rebootlock/semaphore');
  assert.equal(semaphoreKey(''), 'coreos.com/updateengine/rebootlock/semaphore');
  assert.equal(semaphoreKey('workers'), 'coreos.com/updateengine/rebootlock/groups/workers/semaphore');
  assert.equal(semaphoreKey("db a/b!*'()~._-"),
    'coreos.com/updateengine/rebootlock/groups/db+a%2Fb%21%2A%27%28%29~._-/semaphore');
  assert.equal(semaphoreKey('zürich'), 'coreos.com/updateengine/rebootlock/groups/z%C3%BCrich/semaphore');
});

test('values as locksmith writes them parse; holders come out sorted', () => {
  assert.deepEqual(parseSemaphore('{"semaphore":1,"max":1,"holders":null}'), { semaphore: 1, max: 1, holders: [] });
  assert.deepEqual(parseSemaphore('{"semaphore":0,"max":2,"holders":["b","a"]}'),
    { semaphore: 0, max: 2, holders: ['a', 'b'] });
  assert.deepEqual(parseSemaphore('{"semaphore":-1,"max":0,"holders":["a"],"extra":true}'),
    { semaphore: -1, max: 0, holders: ['a'] });
  assert.equal(formatSemaphore(initialSemaphore()), '{"semaphore":1,"max":1,"holders":[]}');
});

test('malformed values are reported, never repaired', () => {
  const cases: Array<[string, string]> = [
    ['', 'the value is not JSON'],
    ['locked by bob', 'the value is not JSON'],
    ['[]', 'the value is not a JSON object'],
    ['null', 'the value is not a JSON object'],
    ['{"max":1,"holders":[]}', '"semaphore" is not an integer'],
    ['{"semaphore":"1","max":1,"holders":[]}', '"semaphore" is not an integer'],
    ['{"semaphore":0.5,"max":1,"holders":[]}', '"semaphore" is not an integer'],
    ['{"semaphore":1,"holders":[]}', '"max" is not an integer >= 0'],
    ['{"semaphore":1,"max":-1,"holders":[]}', '"max" is not an integer >= 0'],
    ['{"semaphore":1,"max":1,"holders":"a"}', '"holders" is not a list of ids'],
    ['{"semaphore":1,"max":1,"holders":[1]}', '"holders" is not a list of ids'],
    ['{"semaphore":1,"max":1,"holders":[""]}', '"holders" is not a list of ids'],
    ['{"semaphore":0,"max":2,"holders":["a","a"]}', '"holders" lists an id twice'],
  ];
  for (const [text, why] of cases) assert.equal(parseSemaphore(text), why, text);
});

test('lock takes a free slot, is idempotent for a holder, refuses when full', () => {
  const free = { semaphore: 2, max: 2, holders: ['m'] };
  assert.deepEqual(lockSemaphore(free, 'a'), { kind: 'changed', next: { semaphore: 1, max: 2, holders: ['a', 'm'] } });
  assert.deepEqual(lockSemaphore(free, 'm'), { kind: 'already-held' });
  assert.deepEqual(lockSemaphore({ semaphore: 0, max: 1, holders: ['m'] }, 'a'), { kind: 'full' });
  assert.deepEqual(lockSemaphore({ semaphore: -1, max: 0, holders: ['m'] }, 'a'), { kind: 'full' });
  // Even when full, a holder asking again holds it.
  assert.deepEqual(lockSemaphore({ semaphore: 0, max: 1, holders: ['m'] }, 'm'), { kind: 'already-held' });
});

test('unlock frees the slot of a holder only', () => {
  const held = { semaphore: 0, max: 2, holders: ['a', 'b'] };
  assert.deepEqual(unlockSemaphore(held, 'a'), { kind: 'changed', next: { semaphore: 1, max: 2, holders: ['b'] } });
  assert.deepEqual(unlockSemaphore(held, 'c'), { kind: 'not-held' });
});

test('setMax keeps holders and moves the free count by the difference', () => {
  const held = { semaphore: 0, max: 2, holders: ['a', 'b'] };
  assert.deepEqual(setSemaphoreMax(held, 5), { semaphore: 3, max: 5, holders: ['a', 'b'] });
  assert.deepEqual(setSemaphoreMax(held, 1), { semaphore: -1, max: 1, holders: ['a', 'b'] });
  assert.deepEqual(setSemaphoreMax(held, 0), { semaphore: -2, max: 0, holders: ['a', 'b'] });
});
