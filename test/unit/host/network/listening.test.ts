/**
 * The host's listening ports from /proc/net tables (a copy in a temporary directory): TCP
 * in LISTEN and bound UDP, IPv4 and IPv6; connected sockets and missing tables are not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listeningPorts } from '../../../../agent/host/network/listening.js';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

test('TCP in LISTEN and bound UDP, IPv4 and IPv6; established sockets are not listeners', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'listening-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tcp'), `${HEADER}   0: 0100007F:094B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n`
    + '   1: 0100007F:B1A9 0100007F:A9E0 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n');
  await writeFile(join(dir, 'tcp6'), `${HEADER}   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n`);
  await writeFile(join(dir, 'udp'), `${HEADER}   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4 2\n`);
  assert.deepEqual([...await listeningPorts(dir)].sort(), ['2379/tcp', '53/udp', '8080/tcp']);
});
