/**
 * libyaml's scanner rules that coreos-cloudinit applied and the `yaml` package does not:
 * tabs where a token may start, tabs in the indentation of plain and block scalars,
 * `@`/`` ` ``/`%` starting a plain scalar, quoted scalars continued on less-indented lines,
 * and libyaml's wording for the errors both parsers find. Each case is checked through
 * the whole validation (the entries a user sees) and, for the scan alone, by its line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CANNOT_START_TOKEN, libyamlScan, TAB_IN_BLOCK_INDENT, TAB_IN_PLAIN_INDENT,
} from '../../../../agent/core/config/libyaml-scan.js';
import { report, validate } from './helpers.js';

const EMPTY_DOC = 'line 0: warning: incorrect type for "" (want struct)';
const cc = (body: string): string => `#cloud-config\n${body}`;

function refused(body: string, line: number, message: string): void {
  assert.deepEqual(report(cc(body)), [`line ${line}: error: ${message}`, EMPTY_DOC], JSON.stringify(body));
}

function accepted(body: string): void {
  assert.deepEqual(libyamlScan(cc(body)).problem, undefined, JSON.stringify(body));
}

test('a tab where a token may start in block context cannot start any token', () => {
  refused('coreos:\n\t\n  update: {}\n', 3, CANNOT_START_TOKEN);
  refused('hostname: "a"\n\t# a comment\n', 3, CANNOT_START_TOKEN);
  refused('\thostname: a\n', 2, CANNOT_START_TOKEN);
  refused('ssh_authorized_keys:\n  -\tssh-ed25519 AAAA\n', 3, CANNOT_START_TOKEN);
  refused('coreos:\n  units:\n    - name: "a.service"\n\t\n', 5, CANNOT_START_TOKEN);
});

test('tabs are blanks after a simple key, after a scalar, in flow context and in comments', () => {
  accepted('hostname:\ta\n');
  accepted('hostname: a\t# the name\n');
  accepted('hostname: "a"\t\n');
  accepted('ssh_authorized_keys: [\ta,\tb ]\n');
  accepted('# a\tcomment\nhostname: a\n');
  assert.deepEqual(report(cc('hostname:\tweb-1\n')), []);
});

test('a tab in the indentation of a plain scalar\'s continuation line', () => {
  refused('coreos:\n  update:\n    group: stable\n\t\n', 5, TAB_IN_PLAIN_INDENT);
  refused('hostname: a\n\t\nmanage_etc_hosts: localhost\n', 3, TAB_IN_PLAIN_INDENT);
  refused('coreos:\n  update:\n    group: a\n \tb\n', 5, TAB_IN_PLAIN_INDENT);
  // Deeper than the scalar's indentation a tab is part of the folded whitespace.
  accepted('coreos:\n  update:\n    group: stable\n     \tmore\n');
});

test('a tab in the indentation of a block scalar', () => {
  refused('write_files:\n  - path: /etc/x\n    content: |\n      line 1\n\tline 2\n', 6, TAB_IN_BLOCK_INDENT);
  refused('write_files:\n  - path: /etc/x\n    content: |\n\t\n      line 1\n', 5, TAB_IN_BLOCK_INDENT);
  // Inside the content (after the indentation) a tab is text.
  const ok = validate(cc('write_files:\n  - path: /etc/x\n    content: |\n      a\tb\n        \tc\n'));
  assert.deepEqual(ok.entries, []);
  assert.equal(new TextDecoder().decode(ok.config!.writeFiles[0]!.content), 'a\tb\n  \tc\n');
});

test('@, ` and % cannot start a plain scalar (a % directive in column 0 is a directive)', () => {
  refused('hostname: @@NAME@@\n', 2, CANNOT_START_TOKEN);
  refused('coreos:\n  oem:\n    id: `x`\n', 4, CANNOT_START_TOKEN);
  refused('hostname: %HOST%\n', 2, CANNOT_START_TOKEN);
  refused('ssh_authorized_keys:\n  - @key\n', 3, CANNOT_START_TOKEN);
  // Quoted, or not at the start of the scalar, they are text.
  assert.deepEqual(report(cc('hostname: "@@NAME@@"\ncoreos:\n  oem:\n    name: a@b 100%\n')), []);
  accepted('write_files:\n  - path: /etc/x\n    content: |\n      @reboot root /bin/true\n');
});

test('a quoted scalar may continue on less-indented lines, with the value YAML folding gives', () => {
  const single = validate(cc("coreos:\n  oem:\n    name: 'first\nsecond\n  third'\n"));
  assert.deepEqual(single.entries, []);
  assert.equal(single.config!.oem.name, 'first second third');
  const double = validate(cc('coreos:\n  oem:\n    name: "a\\\nb"\n    id: x\n'));
  assert.deepEqual(double.entries, []);
  assert.equal(double.config!.oem.name, 'ab');
  // The line numbers of what follows are kept.
  assert.deepEqual(report(cc("coreos:\n  oem:\n    name: 'a\nb'\n    bad: 1\n")), ['line 6: warning: unrecognized key "bad"']);
});

test('libyaml\'s wording for the errors both parsers find', () => {
  assert.deepEqual(report(cc('coreos:\n  units:\n    extra: x\n    - name: a.service\n')).slice(0, 1).map((e) => e.replace(/^line \d+/, 'line N')),
    ['line N: error: did not find expected key']);
  assert.deepEqual(report(cc('write_files:\n  - - path: /etc/x\n    owner: root\n')).slice(0, 1).map((e) => e.replace(/^line \d+/, 'line N')),
    ["line N: error: did not find expected '-' indicator"]);
  assert.deepEqual(report(cc('hostname: a: b\n')), ['line 2: error: mapping values are not allowed in this context', EMPTY_DOC]);
});

test('a token right after a quoted scalar: libyaml expected the next key, or the next "-" item', () => {
  refused('hostname: "a" b\n', 2, 'did not find expected key');
  refused('ssh_authorized_keys:\n  - "a" b\n', 3, "did not find expected '-' indicator");
  // A quote left open runs to the next quote; what follows it on that line is the error.
  refused('hostname: "web\ncoreos:\n  oem:\n    id: "x"\n', 5, 'did not find expected key');
  accepted('hostname: "a" # comment\n"manage_etc_hosts" : localhost\nssh_authorized_keys: ["a", "b"]\n');
});
