/**
 * The man pages render with man -l (man-db, groff) without warnings, and the bash
 * completion script registers itself and completes verbs through agentctl __complete,
 * as a shell would run it (bash, the source-tree agentctl on PATH).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateDocs } from '../../../agent/cli/generate-docs.js';
import { AGENTCTL, REPO } from '../../lib/repo.js';
import { tmpdir } from '../../lib/tmpdir.js';

const run = promisify(execFile);

test('man -l renders agentctl(1), agentd(8) and host-agent-cloud-config(5) without warnings', async (t) => {
  const dir = await tmpdir(t);
  await generateDocs(dir);
  const pages: Array<[string, RegExp[]]> = [
    ['man1/agentctl.1', [/^AGENTCTL\(1\)/, /^VERBS$/m, /agentctl status \[--json\]/, /agentctl logs NAME/, /^EXIT STATUS$/m, /the agent is not running/]],
    ['man8/agentd.8', [/^AGENTD\(8\)/, /--read-group GROUP/, /--max-image-size SIZE/, /^FILES$/m]],
    ['man5/host-agent-cloud-config.5', [/^HOST-AGENT-CLOUD-CONFIG\(5\)/, /host-agent\.containers\[\]\.auto-update bool/, /coreos\.update\.reboot_strategy string/]],
  ];
  for (const [page, expected] of pages) {
    const r = await run('man', ['--warnings', '-l', join(dir, page)], { env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' } });
    assert.equal(r.stderr, '', `${page}: groff warnings`);
    const text = r.stdout.replace(/.\x08/g, '');
    for (const re of expected) assert.match(text, re, page);
  }
});

test('bash completion: complete -p agentctl after sourcing; agentctl st<TAB> offers status, start, stop', async (t) => {
  const dir = await tmpdir(t);
  const [, , , script] = await generateDocs(dir);
  // agentctl on PATH: the source tree's, as an installed one would be.
  const bin = join(dir, 'bin');
  await run('mkdir', [bin]);
  await writeFile(join(bin, 'agentctl'), `#!/bin/sh\ncd ${REPO} && exec ${process.execPath} --import tsx ${AGENTCTL} "$@"\n`);
  await chmod(join(bin, 'agentctl'), 0o755);
  const shell = `source ${script}
complete -p agentctl
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _agentctl; printf '[%s]\\n' "\${COMPREPLY[@]}"; }
echo '--st'; complete_words agentctl st
echo '--image'; complete_words agentctl image l
echo '--logs-opt'; complete_words agentctl logs --s
`;
  const r = await run('bash', ['--norc', '-c', shell], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, HOST_AGENT_BUS: 'session', DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'none')}` } });
  const [registered, st, image, logs] = r.stdout.split(/^--[a-z-]+\n/m);
  assert.match(registered!, /^complete -o default -F _agentctl agentctl$/m);
  assert.equal(st, '[status]\n[start]\n[stop]\n');
  assert.equal(image, '[list]\n');
  assert.equal(logs, '[--system]\n[--since]\n');
});
