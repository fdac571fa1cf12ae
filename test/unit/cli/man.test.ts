import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOUD_CONFIG } from '../../../agent/core/config/root-schema.js';
import { optionTerm, parserOptions, renderOptionLines } from '../../../agent/core/usage/options.js';
import { AGENTD_OPTIONS, AGENTD_SUMMARY, AGENTD_USAGE } from '../../../agent/daemon/options.js';
import { agentctlManPage, agentdManPage, cloudConfigManPage, roff } from '../../../agent/cli/man.js';
import { VERBS } from '../../../agent/cli/verbs/index.js';

test('roff: dashes and backslashes escaped, no line starts a request', () => {
  assert.equal(roff('--json'), '\\-\\-json');
  assert.equal(roff('a\\b'), 'a\\eb');
  assert.equal(roff('.hidden\n\'quote'), '\\&.hidden\n\\&\'quote');
});

test('agentd: one option table for the parser, --help and agentd(8)', () => {
  const page = agentdManPage(AGENTD_OPTIONS, AGENTD_SUMMARY, '1.0.0');
  for (const o of AGENTD_OPTIONS) {
    assert.ok(page.includes(roff(`--${o.name}`)), o.name);
    assert.ok(AGENTD_USAGE.includes(optionTerm(o)), o.name);
  }
  assert.deepEqual(parserOptions([{ name: 'x', arg: 'N', text: '' }, { name: 'help', short: 'h', text: '' }]), { x: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  assert.ok(renderOptionLines(AGENTD_OPTIONS).split('\n').every((l) => l.length <= 80));
  assert.match(page, /^\.TH AGENTD 8 "" "host-agent 1\.0\.0"/m);
});

test('agentctl(1): every visible verb with its synopsis and help entries; cloud-config(5): every schema key', async () => {
  const verbs = await Promise.all(VERBS.map(async (entry) => ({ entry, verb: await entry.load() })));
  const page = agentctlManPage(verbs, '1.0.0');
  for (const { entry } of verbs) assert.equal(page.includes(`\\fBagentctl ${roff(entry.name)}\\fR`), !entry.hidden, entry.name);
  assert.match(page, /^\.SH EXIT STATUS$/m);
  const config = cloudConfigManPage(CLOUD_CONFIG, '1.0.0');
  assert.match(config, /\\fBhost\\-agent\.containers\[\]\.image\\fR \\fIstring\\fR/);
  assert.match(config, /\\fBwrite_files\[\]\.path\\fR/);
});
