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

test('every identifier and name of the reference table', () => {
  const ok = undefined;
  const identifiers: Record<string, string | undefined> = {
    '': 'ACIdentifier cannot be empty', '-app': EDGES_ID, '.app': EDGES_ID, '/app': EDGES_ID, '123': ok, BAR: CHARS_ID,
    'EXAMPLE.com': CHARS_ID, _app: EDGES_ID, 'a-_b': ok, 'a..b': ok, 'app-': EDGES_ID, 'app.': EDGES_ID, 'app/': EDGES_ID,
    app_: EDGES_ID, 'app~': EDGES_ID, asdf: ok, database: ok, 'example.com//test': ok, 'example.com/database': ok,
    'example.com/ourapp-1.0.0': ok, 'example.com/~bob/database': ok, 'foo#': CHARS_ID, 'foo-bar-baz': ok, 'foo.com/BAR': CHARS_ID,
    'my~database': ok, 'sub-domain.example.com/org/product/release-1.0.0': ok,
    'sub-domain.example.com/org/product/~alice/release-1.0.0': ok, zab_rab_oof: ok, '~app': EDGES_ID,
  };
  for (const [id, problem] of Object.entries(identifiers)) assert.equal(acIdentifierProblem(id), problem, id);
  const names: Record<string, string | undefined> = {
    '': 'ACName cannot be empty', '-app': EDGES_NAME, '.app': CHARS_NAME, '/app': CHARS_NAME, '0': ok, 'EXAMPLE.com': CHARS_NAME,
    'a--b': ok, 'app-': EDGES_NAME, 'app.': CHARS_NAME, 'app/': CHARS_NAME, asdf: ok, database: ok, 'example.com': CHARS_NAME,
    'example.com/app_1': CHARS_NAME, 'example/database': CHARS_NAME, 'example/database-1.0.0': CHARS_NAME, 'foo#': CHARS_NAME,
    'foo-bar-baz': ok, 'foo.com/BAR': CHARS_NAME,
  };
  for (const [name, problem] of Object.entries(names)) assert.equal(acNameProblem(name), problem, name);
});
