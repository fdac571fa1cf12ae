/**
 * Reading one file: the header rule, YAML errors, and hostile input (binary, huge, YAML
 * bombs, deep nesting, alias loops), each ending in one clear entry and quickly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { parseCloudConfig, sourceKind, DEFAULT_PARSE_LIMITS } from '../../../../agent/core/config/parse.js';
import { formatEntry } from '../../../../agent/core/config/report.js';
import type { MapNode, ScalarNode } from '../../../../agent/core/config/tree.js';
import { report, ruleReport, validate } from './helpers.js';

const HEADER_ERROR = 'line 1: error: must be "#cloud-config" or begin with "#!"';

function timed<T>(fn: () => T, maxMs: number): T {
  const start = performance.now();
  const result = fn();
  const ms = performance.now() - start;
  assert.ok(ms < maxMs, `took ${ms.toFixed(0)} ms, more than ${maxMs}`);
  return result;
}

test('the header: "#cloud-config" on the first line, trailing blanks allowed', () => {
  assert.equal(sourceKind('#cloud-config\nhostname: a'), 'cloud-config');
  assert.equal(sourceKind('#cloud-config  \t\nhostname: a'), 'cloud-config');
  assert.equal(sourceKind('#cloud-config\r\nhostname: a'), 'cloud-config');
  assert.equal(sourceKind('#cloud-config'), 'cloud-config');
  assert.equal(sourceKind('#!/bin/sh\necho'), 'script');
  assert.equal(sourceKind('#!'), 'script');
  assert.equal(sourceKind(''), 'empty');
  for (const bad of [' #cloud-config\n', '#cloud-configx\n', '\n#cloud-config\n', 'hostname: a\n', '{}', '#cloud-config-archive\n']) {
    assert.equal(sourceKind(bad), 'invalid', JSON.stringify(bad));
    assert.deepEqual(report(bad), [HEADER_ERROR]);
  }
});

test('an empty file, or a header alone, is an empty configuration without entries', () => {
  for (const text of ['', '#cloud-config\n', '#cloud-config\n# nothing yet\n', '#cloud-config\n~\n']) {
    const result = validate(text);
    assert.deepEqual(result.entries, [], JSON.stringify(text));
    assert.deepEqual(result.config?.units, []);
  }
});

test('YAML syntax errors: libyaml wording where it is the same problem, then the empty-document warning', () => {
  assert.deepEqual(report('#cloud-config\n#hello\na:\na'), [
    "line 4: error: could not find expected ':'", 'line 0: warning: incorrect type for "" (want struct)']);
  const unterminated = report('#cloud-config\nhostname: "web\n');
  assert.equal(unterminated.length, 2);
  assert.match(unterminated[0]!, /^line \d: error: Missing closing "quote/);
  assert.deepEqual(report('#cloud-config\nhostname: a\n---\nhostname: b\n').slice(0, 1), [
    'line 3: error: the file holds more than one YAML document (a second "---"); a cloud-config is one document']);
});

test('a document that is not a map is an error', () => {
  assert.deepEqual(report('#cloud-config\n- a\n- b\n'), [
    'line 2: error: a cloud-config is a map of keys to values, but this document is a list']);
  assert.deepEqual(report('#cloud-config\nhello\n'), [
    'line 2: error: a cloud-config is a map of keys to values, but this document is a single value']);
});

test('a binary file: the header error, or "not a text file" after a header', () => {
  const bytes = randomBytes(64 * 1024);
  bytes[0] = 0; // never a header or "#!"
  assert.deepEqual(report(new TextDecoder().decode(bytes)), [HEADER_ERROR]);
  assert.deepEqual(report('#cloud-config\nhostname: a\n\u0000\u0001\u0002'), [
    'line 3: error: not a text file: it contains the control character 0x00; a cloud-config is UTF-8 YAML text']);
  const invalidUtf8 = new TextDecoder().decode(Uint8Array.from([...Buffer.from('#cloud-config\nhostname: '), 0xff, 0xfe]));
  assert.deepEqual(report(invalidUtf8), [
    'line 2: error: not a text file: it contains bytes that are not UTF-8; a cloud-config is UTF-8 YAML text']);
  const random = timed(() => report(`#cloud-config\n${new TextDecoder().decode(randomBytes(1024 * 1024))}`), 2000);
  assert.equal(random.length, 1);
  assert.match(random[0]!, /^line \d+: error: not a text file/);
});

test('a 10 MB file is refused at once, by size', () => {
  let big = '#cloud-config\nwrite_files:\n';
  const item = '  - path: /etc/motd\n    content: "hello world, hello world, hello world"\n';
  big += item.repeat(Math.ceil(10e6 / item.length));
  const entries = timed(() => report(big), 500);
  assert.deepEqual(entries, [
    `line 1: error: the file is too large: ${big.length} characters where at most ${DEFAULT_PARSE_LIMITS.maxChars} are accepted`]);
});

test('a YAML bomb (aliases expanding exponentially) is stopped with one entry', () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const [prev, name] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const entries = timed(() => report(`#cloud-config\n${levels.join('\n')}\n`), 1000);
  assert.equal(entries.length, 1);
  assert.match(entries[0]!, /^line \d+: error: aliases expand the document by more than 100000 nodes \(an exponential "YAML bomb"\?\)/);
});

test('nested merge-key bombs are stopped too', () => {
  const lines = ['x0: &x0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}'];
  for (let i = 1; i < 12; i++) lines.push(`x${i}: &x${i} {p: *x${i - 1}, q: *x${i - 1}, r: *x${i - 1}, s: *x${i - 1}}`);
  const entries = timed(() => report(`#cloud-config\n${lines.join('\n')}\n`), 1000);
  assert.equal(entries.length, 1);
  assert.match(entries[0]!, /YAML bomb/);
});

test('deep nesting: our limit, and the parser\'s own', () => {
  assert.deepEqual(report(`#cloud-config\na: ${'['.repeat(100)}${']'.repeat(100)}\n`), [
    'line 2: error: nesting deeper than 64 levels']);
  let block = '#cloud-config\n';
  for (let i = 0; i < 1000; i++) block += `${' '.repeat(i)}k:\n`;
  const blockEntries = timed(() => report(block), 3000);
  assert.equal(blockEntries.length, 1);
  assert.match(blockEntries[0]!, /^line \d+: error: nesting (deeper than 64 levels|too deep to parse)/);
  const flood = timed(() => report(`#cloud-config\na: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`), 5000);
  assert.deepEqual(flood, ['line 2: error: nesting too deep to parse; a cloud-config needs only a few levels']);
});

test('an alias that nests too deep is refused at the alias', () => {
  let text = '#cloud-config\nd0: &d0 [1]\n';
  for (let i = 1; i < 70; i++) text += `d${i}: &d${i} [*d${i - 1}]\n`;
  const entries = report(text);
  assert.equal(entries.length, 1);
  assert.match(entries[0]!, /error: alias \*d\d+ nests deeper than 64 levels/);
});

test('alias loops and unknown anchors are errors', () => {
  assert.deepEqual(report('#cloud-config\na: &a [1, *a]\n'), ['line 2: error: alias *a refers to a node that contains it']);
  assert.deepEqual(report('#cloud-config\nhostname: *nope\n'), ["line 2: error: unknown anchor 'nope' referenced"]);
  assert.deepEqual(report('#cloud-config\ncoreos:\n  <<: 5\n'), [
    'line 3: error: a merge key "<<" must be followed by a map or a list of maps']);
});

test('aliases and merge keys work; an entry in an aliased node is reported once', () => {
  const text = `#cloud-config
x-defaults: &unit {enable: true, command: start}
coreos:
  units:
    - <<: *unit
      name: a.service
    - <<: [{command: stop}, *unit]
      name: b.service
`;
  const result = validate(text);
  assert.deepEqual(result.entries.map((e) => formatEntry(e)), ['line 2: warning: unrecognized key "x_defaults"']);
  assert.deepEqual(result.config?.units.map((u) => [u.name, u.enable, u.command]), [
    ['a.service', true, 'start'], ['b.service', true, 'stop']]);
  assert.deepEqual(ruleReport('#cloud-config\nx: &u {command: lol}\ncoreos:\n  units: [*u, *u]\n'), [
    'line 2: warning: unrecognized key "x"', 'line 2: error: invalid value lol']);
});

test('the tree keeps YAML 1.1 types, the text as written, and lines', () => {
  const parsed = parseCloudConfig('#cloud-config\np: 0744\nq: off\nr: !!binary aGk=\ns: "0744"\nt: 2001-12-14\nu:\nv: 1.5\n', 'f.yaml');
  const tree = parsed.tree as MapNode;
  const scalars = Object.fromEntries(tree.pairs.map((p) => [p.key, p.value as ScalarNode]));
  assert.deepEqual(Object.fromEntries(Object.entries(scalars).map(([k, s]) => [k, [s.type, s.text, s.line, s.file]])), {
    p: ['int', '0744', 2, 'f.yaml'],
    q: ['bool', 'off', 3, 'f.yaml'],
    r: ['binary', 'aGk=', 4, 'f.yaml'],
    s: ['string', '0744', 5, 'f.yaml'],
    t: ['string', '2001-12-14', 6, 'f.yaml'],
    u: ['null', '', 7, 'f.yaml'],
    v: ['float', '1.5', 8, 'f.yaml'],
  });
  assert.deepEqual([...scalars.r!.bytes!], [...Buffer.from('hi')]);
});
