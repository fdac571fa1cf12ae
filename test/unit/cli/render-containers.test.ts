import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus } from '../../../agent/api/agent1.js';
import { renderContainers } from '../../../agent/cli/render/containers.js';

const base = { kind: 'declared' as const, activeState: 'active', subState: 'running', nRestarts: 0 };
const LIST: ContainerStatus[] = [
  { ...base, name: 'web', image: 'example.com/web:1.4.0', version: '1.4.0', unit: 'container-web.service', state: 'running', mainPid: 4242, activeSince: '2026-01-01T00:00:00.000Z', nRestarts: 2,
    network: { name: 'default', address: '172.16.28.2', ports: ['8080:80/tcp', '5353:53/udp'] } },
  { ...base, name: 'broken', image: 'example.com/web', version: '1.4.0', unit: 'container-broken.service', state: 'failed', activeState: 'failed', subState: 'failed', mainPid: 0, exitStatus: 3, lastOutput: ['first', 'boom'], network: { name: 'host', ports: [] } },
  { ...base, name: 'api', image: 'localhost/nothing', unit: 'container-api.service', state: 'error', activeState: 'inactive', subState: 'dead', mainPid: 0, error: { code: 'container.image-unavailable', message: 'image localhost/nothing is not in the store and cannot be fetched', hint: 'Fetch it with agentctl fetch' } },
];

test('ps: one row per container, failed ones with exit status and last output, errors with their code', () => {
  const text = renderContainers(LIST, false, new Date('2026-01-01T00:01:05.000Z'));
  assert.equal(text, [
    'NAME    IMAGE                  VERSION  STATE            PID   UPTIME   RESTARTS  NETWORK              PORTS',
    'web     example.com/web:1.4.0  1.4.0    running          4242  1min 5s  2         default 172.16.28.2  8080:80/tcp,5353:53/udp',
    'broken  example.com/web        1.4.0    failed (exit 3)  -     -        0         host                 -',
    'api     localhost/nothing      -        error            -     -        0         -                    -',
    '',
    'broken: exited with status 3; last output:',
    '  first',
    '  boom',
    'api: container.image-unavailable: image localhost/nothing is not in the store and cannot be fetched. Fetch it with agentctl fetch',
    '',
  ].join('\n'));
});

test('ps: output withheld by the agent shows as hidden', () => {
  const hidden: ContainerStatus = { ...LIST[1]!, lastOutput: undefined, hidden: ['lastOutput'] };
  assert.match(renderContainers([hidden], false), /^broken: exited with status 3; last output: \(hidden: run as root\)$/m);
});

test('ps with no containers says so', () => {
  assert.equal(renderContainers([], false), 'No containers.\n');
});
