/**
 * Agent logs: JSON lines on stderr (one object a line, `ts level msg ...fields`) so cluster log
 * pipelines can parse them, or plain text for people. Never pass secrets as fields.
 */
import { stderrTerminal } from './output-host.js';
import { envSwitch } from '../core/config/switch.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** A line another program printed (Patroni, PostgreSQL): unchanged in text logs, wrapped in JSON logs. */
  relay(line: string, level: Level, source: string): void;
}

export function createLogger(
  format: 'json' | 'text' = 'json',
  base: Record<string, unknown> = {},
  write: (line: string) => void = (line) => stderrTerminal.write(line + '\n'),
  minLevel: Level = envSwitch(process.env.PGOPS_DEBUG) ? 'debug' : 'info',
): Logger {
  const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    if (format === 'json') {
      write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields }));
    } else {
      const extra = { ...base, ...fields };
      const tail = Object.keys(extra).length
        ? ' ' +
          Object.entries(extra)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
        : '';
      write(`${new Date().toISOString()} ${level.toUpperCase()} ${msg}${tail}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(format, { ...base, ...fields }, write, minLevel),
    relay: (line, level, source) => {
      if (order[level] < order[minLevel]) return;
      if (format === 'json')
        write(JSON.stringify({ ts: new Date().toISOString(), level, msg: line, source, ...base }));
      else write(line);
    },
  };
}
