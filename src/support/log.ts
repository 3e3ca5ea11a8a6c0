// Logs go to stderr (stdout belongs to `events` mode), as logfmt or JSON lines. Every message
// and string field passes through redactSecrets() (src/support/redact.ts): no URL credential, token or
// registered secret reaches a line, whichever call site (or library error message) brought it.

import { redactSecrets } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'logfmt' | 'json';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_FORMATS: readonly LogFormat[] = ['logfmt', 'json'];

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  /** A config reload's new level. */
  setLevel(level: LogLevel): void;
}

function logfmtValue(value: string | number | boolean): string {
  const text = String(value);
  return text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text;
}

export function createLogger(
  level: LogLevel,
  format: LogFormat,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  let threshold = LOG_LEVELS.indexOf(level);
  const log = (lvl: LogLevel, rawMsg: string, rawFields: LogFields = {}): void => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return;
    const time = new Date().toISOString();
    const msg = redactSecrets(rawMsg);
    const fields: LogFields = {};
    for (const [key, value] of Object.entries(rawFields))
      fields[key] = typeof value === 'string' ? redactSecrets(value) : value;
    if (format === 'json') {
      write(JSON.stringify({ time, level: lvl, msg, ...fields }) + '\n');
      return;
    }
    let line = `time=${time} level=${lvl} msg=${logfmtValue(msg)}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${logfmtValue(value)}`;
    }
    write(line + '\n');
  };
  return {
    debug: (msg, fields) => log('debug', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
    enabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= threshold,
    setLevel: (lvl) => {
      threshold = LOG_LEVELS.indexOf(lvl);
    },
  };
}
