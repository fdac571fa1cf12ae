/**
 * winston logger for agentd, in the form the reader wants: plain lines with `<N>` syslog
 * priority prefixes when stdout is the journal (systemd sets JOURNAL_STREAM), readable
 * lines with a time stamp on a terminal or file, or one JSON object per line.
 */
import winston from 'winston';

export type LogFormat = 'journal' | 'human' | 'json';
export type Logger = winston.Logger;

/** syslog priorities (sd-daemon(3)) for winston's npm levels. */
const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, verbose: 7, debug: 7, silly: 7 };

export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): LogFormat {
  return env.JOURNAL_STREAM ? 'journal' : 'human';
}

function fieldsOf(info: winston.Logform.TransformableInfo): string {
  const { level: _l, message: _m, timestamp: _t, ...rest } = info;
  const entries = Object.entries(rest).filter(([k]) => typeof k === 'string');
  return entries.length ? ' ' + entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
}

const FORMATS: Record<LogFormat, () => winston.Logform.Format> = {
  journal: () => winston.format.printf((info) => `<${PRIORITY[info.level] ?? 6}>${String(info.message)}${fieldsOf(info)}`),
  human: () => winston.format.combine(
    winston.format.timestamp(),
    winston.format.printf((info) => `${String(info.timestamp)} ${info.level.toUpperCase().padEnd(5)} ${String(info.message)}${fieldsOf(info)}`),
  ),
  json: () => winston.format.combine(winston.format.timestamp(), winston.format.json()),
};

export function createLogger(format: LogFormat, level = 'info', stream: NodeJS.WritableStream = process.stdout): Logger {
  return winston.createLogger({
    level,
    format: FORMATS[format](),
    transports: [new winston.transports.Stream({ stream })],
  });
}
