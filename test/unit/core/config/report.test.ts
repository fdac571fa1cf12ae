/** Report entries and their printed form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEntry, hasErrors, Report, uniqueEntries } from '../../../../agent/core/config/report.js';

test('entries print as the reference prints them, with the file in front when named', () => {
  const report = new Report('/etc/a.yaml');
  report.error(4, 'invalid value lol');
  report.warning(0, 'incorrect type for "" (want struct)');
  report.info(6, "write_files doesn't belong under coreos");
  report.addFor(undefined, 'warning', 2, 'unrecognized key "x"');
  assert.deepEqual(report.entries.map((e) => formatEntry(e)), [
    '/etc/a.yaml: line 4: error: invalid value lol',
    '/etc/a.yaml: line 0: warning: incorrect type for "" (want struct)',
    "/etc/a.yaml: line 6: info: write_files doesn't belong under coreos",
    'line 2: warning: unrecognized key "x"',
  ]);
  assert.equal(formatEntry(report.entries[0]!, false), 'line 4: error: invalid value lol');
  assert.equal(hasErrors(report.entries), true);
  assert.equal(hasErrors(report.entries.slice(1)), false);
});

test('uniqueEntries drops repeats, keeping the first of each', () => {
  const a = { file: 'a', line: 1, level: 'error' as const, message: 'm' };
  assert.deepEqual(uniqueEntries([a, { ...a }, { ...a, file: 'b' }, { ...a, line: 2 }, a]), [a, { ...a, file: 'b' }, { ...a, line: 2 }]);
});
