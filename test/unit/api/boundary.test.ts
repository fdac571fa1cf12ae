import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_ERRORS, AGENT_METHODS, AGENT_SIGNALS, errorNameOf, type AgentStatus, type ContainerStatus, type ImageDetail, type ImageUpdatesDocument } from '../../../agent/api/agent1.js';
import { argumentProblem, MAX_NAME_LENGTH, type ArgumentSpec } from '../../../agent/api/arguments.js';
import { HIDDEN, hideUrlCredentials, redactDocument, redactImageDetail, redactStatus } from '../../../agent/api/redact.js';

const failed: ContainerStatus = {
  name: 'db', kind: 'declared', image: 'example.com/db', unit: 'container-db.service', state: 'failed', activeState: 'failed',
  subState: 'failed', mainPid: 0, nRestarts: 0, exitStatus: 1, lastOutput: ['DB_PASSWORD=secret'],
};

test('unprivileged documents keep states and drop container output, naming what is hidden', () => {
  const status = { update: {}, containers: [failed, { ...failed, name: 'ok', state: 'running', lastOutput: undefined }] } as unknown as AgentStatus;
  const r = redactStatus(status);
  assert.equal(r.containers![0]!.state, 'failed');
  assert.equal(r.containers![0]!.exitStatus, 1);
  assert.equal(r.containers![0]!.lastOutput, undefined);
  assert.deepEqual(r.containers![0]!.hidden, ['lastOutput']);
  assert.equal(r.containers![1]!.hidden, undefined, 'nothing hidden where there was nothing');
  assert.equal(failed.lastOutput!.length, 1, 'the original is left alone');
  for (const json of [redactDocument('ListContainers', JSON.stringify([failed])), redactDocument('GetStatus', JSON.stringify(status)), redactDocument('StatusChanged', JSON.stringify(status))]) {
    assert.doesNotMatch(json, /secret/);
  }
});

test('the output kept with an image rollback is hidden: the status and the image updates document', () => {
  const status = { update: {}, imageRollback: { container: 'db', message: 'rolled back', at: 'x', output: ['DB_PASSWORD=secret'] } } as unknown as AgentStatus;
  const r = redactStatus(status);
  assert.deepEqual(r.imageRollback, { container: 'db', message: 'rolled back', at: 'x', hidden: ['output'] });
  assert.equal(r.containers, undefined, 'no containers field added');
  assert.deepEqual(redactStatus({ ...status, imageRollback: { container: 'db', message: 'm', at: 'x' } }).imageRollback, { container: 'db', message: 'm', at: 'x' });
  const doc: ImageUpdatesDocument = {
    settleSeconds: 30,
    containers: [
      { name: 'db', image: 'd', failed: [], last: { result: 'rolled back', message: 'm', at: 'x', output: ['DB_PASSWORD=secret'] } },
      { name: 'ok', image: 'o', failed: [], last: { result: 'updated', message: 'm', at: 'x' } },
    ],
  };
  const u = JSON.parse(redactDocument('ContainerImageUpdates', JSON.stringify(doc))) as ImageUpdatesDocument;
  assert.deepEqual(u.containers[0], { name: 'db', image: 'd', failed: [], last: { result: 'rolled back', message: 'm', at: 'x' }, hidden: ['last.output'] });
  assert.equal(u.containers[1]!.hidden, undefined);
  for (const member of ['GetStatus', 'StatusChanged'] as const) assert.doesNotMatch(redactDocument(member, JSON.stringify(status)), /secret/);
});

test('an image record and manifest keep their shape, their environment values are hidden', () => {
  const manifest = JSON.stringify({ acKind: 'ImageManifest', name: 'x', app: { exec: ['/x'], environment: [{ name: 'TOKEN', value: 'secret' }] } });
  const record = { id: 'sha256-x', format: 'oci', name: 'x', labels: [], annotations: {}, layers: [], run: { exec: ['/x'], environment: [['TOKEN', 'secret']], ports: [], isolators: [] } };
  const detail = { image: { source: '/x.aci' }, dir: '/d', record, manifest } as unknown as ImageDetail;
  const r = redactImageDetail(detail);
  assert.deepEqual(JSON.parse(r.manifest!).app.environment, [{ name: 'TOKEN', value: HIDDEN }]);
  assert.deepEqual(r.record.run!.environment, [['TOKEN', HIDDEN]]);
  assert.deepEqual(r.hidden, ['record.run.environment', 'manifest.app.environment']);
  assert.doesNotMatch(redactDocument('GetImage', JSON.stringify(detail)), /secret/);
  const { manifest: _m, ...oci } = detail;
  assert.deepEqual(redactImageDetail(oci).hidden, ['record.run.environment']);
  const { run: _run, ...ran } = record;
  const bare = { ...detail, record: ran, manifest: JSON.stringify({ name: 'x' }) } as unknown as ImageDetail;
  assert.deepEqual(redactImageDetail(bare), bare);
});

test('credentials in URLs are hidden, in every string of every read document and signal', () => {
  assert.equal(hideUrlCredentials('https://bob:tok3n@reg.example.com/a.aci?x=1'), `https://bob:${HIDDEN}@reg.example.com/a.aci?x=1`);
  assert.equal(hideUrlCredentials('fetching https://tok3n@reg.example.com/a failed'), `fetching https://${HIDDEN}@reg.example.com/a failed`);
  assert.equal(hideUrlCredentials('https://reg.example.com/a@b'), 'https://reg.example.com/a@b');
  assert.equal(hideUrlCredentials('example.com/web:1.0.0'), 'example.com/web:1.0.0');
  const status = {
    update: { server: 'https://u:p4ss@update.example.com/v1/update/', lastError: { message: 'GET https://u:p4ss@update.example.com: 500' } },
    reboot: { lock: { backend: 'fleetlock', endpoint: 'https://u:p4ss@lock.example.com', held: false } },
  };
  assert.doesNotMatch(redactDocument('GetStatus', JSON.stringify(status)), /p4ss/);
  assert.doesNotMatch(redactDocument('ListImages', JSON.stringify([{ source: 'https://u:p4ss@h/x.aci' }])), /p4ss/);
  assert.doesNotMatch(redactDocument('UpdateStatusChanged', JSON.stringify(status.update)), /p4ss/);
  assert.match(redactDocument('GetUpdateStatus', JSON.stringify(status.update)), /"server":"https:\/\/u:\(hidden: run as root\)@update\.example\.com/);
});

test('every read method replies, and every signal carries, one JSON document (what redaction takes)', () => {
  for (const [name, m] of Object.entries(AGENT_METHODS)) if (m.access === 'read') assert.equal(m.out, 's', name);
  for (const [name, sig] of Object.entries(AGENT_SIGNALS)) assert.equal(sig.signature, 's', name);
});

test('every method that takes a string says what it is; names and requests are checked', () => {
  for (const [name, m] of Object.entries(AGENT_METHODS)) assert.equal('arg' in m, m.in === 's', name);
  const name: ArgumentSpec = { kind: 'name', what: 'the container name' };
  assert.equal(argumentProblem('StartContainer', name, 'web'), undefined);
  assert.match(argumentProblem('StartContainer', name, 'x'.repeat(MAX_NAME_LENGTH + 1))!.message, /1025 characters long, more than 1024/);
  assert.match(argumentProblem('StartContainer', name, '')!.message, /empty/);
  const run = AGENT_METHODS.RunContainer.arg;
  assert.equal(argumentProblem('RunContainer', run, '{"image":"x","exec":["a"],"future":1}'), undefined);
  for (const [bad, why] of [['{x', /not JSON/], ['[]', /JSON object/], ['null', /JSON object/], ['{"image":1}', /RunRequest\.image must be a string$/],
    ['{"image":"x","exec":[1]}', /exec must be an array of strings/], ['{}', /image must be a string and is missing/]] as const) {
    const e = argumentProblem('RunContainer', run, bad)!;
    assert.equal(e.code, 'agent.bad-request');
    assert.match(e.message, why, bad);
  }
  assert.match(argumentProblem('GcImages', AGENT_METHODS.GcImages.arg, '{"graceSeconds":"1"}')!.message, /must be a number/);
});

test('AgentError codes map to typed D-Bus error names', () => {
  assert.equal(errorNameOf('agent.bad-request'), AGENT_ERRORS.invalidArgs);
  assert.equal(errorNameOf('container.not-found'), AGENT_ERRORS.notFound);
  assert.equal(errorNameOf('image.not-in-store'), AGENT_ERRORS.notFound);
  assert.equal(errorNameOf('agent.busy'), AGENT_ERRORS.busy);
  assert.equal(errorNameOf('agent.shutting-down'), AGENT_ERRORS.shuttingDown);
  assert.equal(errorNameOf('systemd.job-failed'), AGENT_ERRORS.failed);
});
