import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, escapeSpecifiers, quoteExecWord, quoteWord } from '../../../../agent/core/containers/quote.js';

test('harmless words are written bare; % is doubled everywhere', () => {
  assert.equal(quoteExecWord('/bin/httpd'), '/bin/httpd');
  assert.equal(quoteExecWord('--bind=/a:/b'), '--bind=/a:/b');
  assert.equal(quoteExecWord('100%'), '100%%');
  assert.equal(escapeSpecifiers('%n%%'), '%%n%%%%');
});

test('hostile words are quoted so they stay one literal word', () => {
  const cases: Array<[string, string]> = [
    [';', '";"'],
    ['a;b', '"a;b"'],
    ['', '""'],
    ['two words', '"two words"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ['back\\slash', '"back\\\\slash"'],
    ['end\\', '"end\\\\"'],
    ['$HOME', '"$$HOME"'],
    ['${PATH}', '"$${PATH}"'],
    ['%n', '%%n'],
    ['line1\nline2', '"line1\\nline2"'],
    ['tab\there', '"tab\\there"'],
    ['bell\x07', '"bell\\x07"'],
    ['" --bind=/:/host "', '"\\" --bind=/:/host \\""'],
    ['héllo', '"héllo"'],
  ];
  for (const [word, expected] of cases) assert.equal(quoteExecWord(word), expected, JSON.stringify(word));
});

test('list settings do not double $ (systemd does not substitute there)', () => {
  assert.equal(quoteWord('A=$HOME'), '"A=$HOME"');
  assert.equal(quoteWord('A=100%'), 'A=100%%');
  assert.equal(quoteWord('A=x y'), '"A=x y"');
});

test('a program word that starts like a systemd flag is always quoted', () => {
  assert.equal(commandLine(['-/bin/x', '-a']), '"-/bin/x" -a');
  assert.equal(commandLine(['@/bin/x']), '"@/bin/x"');
  assert.equal(commandLine(['+/bin/x', ';', '+x']), '"+/bin/x" ";" +x');
  assert.equal(commandLine(['/bin/sh', '-c', 'echo $1; rm -rf /']), '/bin/sh -c "echo $$1; rm -rf /"');
});
