import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentArgs } from '../../../agent/daemon/options.js';

test('defaults follow DESIGN.md §3 on the system bus', () => {
  const parsed = parseAgentArgs([], {});
  assert.ok('options' in parsed);
  assert.equal(parsed.options.bus, 'system');
  assert.equal(parsed.options.configPath, '/etc/host-agent/cloud-config.yaml');
  assert.equal(parsed.options.stateDir, '/var/lib/host-agent');
  assert.equal(parsed.options.unitDirs.persistent, '/etc/systemd/system');
  assert.equal(parsed.options.logFormat, 'human');
  assert.equal(parsed.options.updateAllowDowngrade, false, 'older OS releases are refused unless asked for');
  const allowing = parseAgentArgs(['--update-allow-downgrade'], {});
  assert.ok('options' in allowing);
  assert.equal(allowing.options.updateAllowDowngrade, true);
});

test('under systemd the journal format is the default; --user uses the session layout', () => {
  const parsed = parseAgentArgs(['--user'], { JOURNAL_STREAM: '8:1', XDG_CONFIG_HOME: '/c', XDG_RUNTIME_DIR: '/r' });
  assert.ok('options' in parsed);
  assert.equal(parsed.options.logFormat, 'journal');
  assert.equal(parsed.options.unitDirs.persistent, '/c/systemd/user');
  assert.equal(parsed.options.runtimeDir, '/r/host-agent');
});

test('bad arguments are usage errors', () => {
  assert.throws(() => parseAgentArgs(['--nope'], {}), /Unknown option/);
  assert.throws(() => parseAgentArgs(['--log-format=xml'], {}), /not a format/);
});

test('--max-image-size sets the unpacked-size limit of images; without it the fetch derives it from free space', () => {
  const none = parseAgentArgs([], {});
  assert.ok('options' in none);
  assert.equal(none.options.maxImageBytes, undefined);
  const set = parseAgentArgs(['--max-image-size', '20G'], {});
  assert.ok('options' in set);
  assert.equal(set.options.maxImageBytes, 20 * 2 ** 30);
  assert.throws(() => parseAgentArgs(['--max-image-size=lots'], {}), /--max-image-size lots is not a size/);
  assert.throws(() => parseAgentArgs(['--max-image-size=0'], {}), /is not a size/);
});
