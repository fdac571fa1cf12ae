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

test('ps: a pod, then one row per app under it (its image, version, state, PID); a failed app shows its exit status', () => {
  const pod: ContainerStatus = {
    ...base, name: 'duo', image: '', unit: 'container-duo.service', state: 'failed', activeState: 'failed', subState: 'failed', mainPid: 0, exitStatus: 3,
    lastOutput: ['pod: app client failed with exit status 3; stopping the pod'], network: { name: 'default', ports: ['8080:8080/tcp'] },
    apps: [
      { name: 'server', image: 'example.com/httpd:2.4', version: '2.4', unit: 'container-duo.server.service', state: 'stopped', activeState: 'inactive', mainPid: 0 },
      { name: 'client', image: 'example.com/client', unit: 'container-duo.client.service', state: 'failed', activeState: 'failed', mainPid: 0, exitStatus: 3 },
    ],
  };
  assert.equal(renderContainers([pod], false), [
    'NAME          IMAGE                  VERSION  STATE            PID  UPTIME  RESTARTS  NETWORK  PORTS',
    'duo           pod of 2 apps          -        failed (exit 3)  -    -       0         default  8080:8080/tcp',
    '  duo/server  example.com/httpd:2.4  2.4      stopped          -    -       -         -        -',
    '  duo/client  example.com/client     -        failed (exit 3)  -    -       -         -        -',
    '',
    'duo: exited with status 3; last output:',
    '  pod: app client failed with exit status 3; stopping the pod',
    '',
  ].join('\n'));
});
