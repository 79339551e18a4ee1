/** The CLI's logger: leveled lines on stderr (WARN by default, INFO with --verbose, DEBUG with --debug). */

import type { Logger, LogLevel } from '../log.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface StderrLoggerOptions {
  /** the lowest level written */
  level: LogLevel;
  /** where lines go (process.stderr.write by default) */
  write?: (line: string) => void;
  /** one JSON object per line instead of text */
  json?: boolean;
  /** clock for the elapsed-time prefix in debug output */
  now?: () => number;
  /** called before a line is written, e.g. to clear a progress bar from the terminal */
  beforeWrite?: () => void;
}

/** Renders one field value for a text log line: strings as is when they need no quotes, the rest as JSON. */
export function formatFieldValue(value: unknown): string {
  if (typeof value === 'string')
    return /^[^\s"=]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'undefined';
  if (value instanceof Error) return JSON.stringify(value.message);
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(String(value));
  }
}

/** One text log line: `starget: LEVEL message key=value …`, with `+Nms` since start at debug level. */
export function formatLogLine(
  level: LogLevel,
  message: string,
  fields: Record<string, unknown> | undefined,
  elapsedMs?: number,
): string {
  const parts = [`starget: ${level.toUpperCase()}`];
  if (elapsedMs !== undefined) parts.push(`+${Math.round(elapsedMs)}ms`);
  parts.push(message);
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (value === undefined) continue;
    parts.push(`${key}=${formatFieldValue(value)}`);
  }
  return `${parts.join(' ')}\n`;
}

/** Creates a Logger writing to stderr (or `write`) at and above `level`. */
export function createStderrLogger(options: StderrLoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => performance.now());
  const start = now();
  const min = ORDER[options.level];
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    options.beforeWrite?.();
    if (options.json) {
      write(`${safeJson({ level, message, ...(fields ?? {}) })}\n`);
      return;
    }
    write(formatLogLine(level, message, fields, options.level === 'debug' ? now() - start : undefined));
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

function safeJson(value: Record<string, unknown>): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return JSON.stringify({ level: value.level, message: value.message });
  }
}

/** The level the CLI logs at for its flags: --debug wins over --verbose; WARN otherwise. */
export function logLevelFor(flags: { verbose?: boolean; debug?: boolean }): LogLevel {
  if (flags.debug) return 'debug';
  if (flags.verbose) return 'info';
  return 'warn';
}
