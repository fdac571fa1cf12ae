import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger, defaultLogFormat, type LogFormat } from '../../../../agent/host/log/logger.js';

async function lines(format: LogFormat, emit: (log: ReturnType<typeof createLogger>) => void): Promise<string[]> {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  const log = createLogger(format, 'debug', stream);
  emit(log);
  await new Promise((r) => setImmediate(r));
  return text.trim().split('\n');
}

test('journal lines carry syslog priority prefixes', async () => {
  const out = await lines('journal', (log) => {
    log.error('broken');
    log.warn('careful', { unit: 'web.service' });
    log.info('fine');
    log.debug('detail');
  });
  assert.deepEqual(out, ['<3>broken', '<4>careful unit=web.service', '<6>fine', '<7>detail']);
});

test('json lines are objects with level, message and timestamp', async () => {
  const [line] = await lines('json', (log) => log.info('hello', { n: 1 }));
  const obj = JSON.parse(line!) as Record<string, unknown>;
  assert.equal(obj.level, 'info');
  assert.equal(obj.message, 'hello');
  assert.equal(obj.n, 1);
  assert.ok(obj.timestamp);
});

test('human lines have a time stamp and the level; the journal is the default under systemd', async () => {
  const [line] = await lines('human', (log) => log.warn('x'));
  assert.match(line!, /^\d{4}-\d\d-\d\dT\S+ WARN  x$/);
  assert.equal(defaultLogFormat({ JOURNAL_STREAM: '9:1' }), 'journal');
  assert.equal(defaultLogFormat({}), 'human');
});
