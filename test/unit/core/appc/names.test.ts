import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acIdentifierProblem, acNameProblem } from '../../../../agent/core/appc/names.js';

const CHARS_ID = 'ACIdentifier must contain only lower case alphanumeric characters plus "-._~/"';
const EDGES_ID = 'ACIdentifier must start and end with only lower case alphanumeric characters';
const CHARS_NAME = 'ACName must contain only lower case alphanumeric characters plus "-"';
const EDGES_NAME = 'ACName must start and end with only lower case alphanumeric characters';

test('AC Identifiers accepted by the reference', () => {
  for (const id of ['asdf', 'zab_rab_oof', 'my~database', 'example.com/~bob/database', 'a..b', 'a-_b', 'example.com//test', '123']) {
    assert.equal(acIdentifierProblem(id), undefined, id);
  }
});

test('AC Identifiers rejected, with the reference message', () => {
  assert.equal(acIdentifierProblem(''), 'ACIdentifier cannot be empty');
  for (const id of ['BAR', 'foo#', 'foo.com/BAR']) assert.equal(acIdentifierProblem(id), CHARS_ID, id);
  for (const id of ['-app', '.app', '/app', '_app', '~app', 'app-', 'app_', 'app/']) assert.equal(acIdentifierProblem(id), EDGES_ID, id);
});

test('AC Names', () => {
  for (const n of ['0', 'a--b', 'foo-bar-baz']) assert.equal(acNameProblem(n), undefined, n);
  assert.equal(acNameProblem(''), 'ACName cannot be empty');
  for (const n of ['.app', 'example.com', 'app.', 'foo#']) assert.equal(acNameProblem(n), CHARS_NAME, n);
  for (const n of ['-app', 'app-']) assert.equal(acNameProblem(n), EDGES_NAME, n);
});
