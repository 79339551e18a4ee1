/** The library never prints: it logs through this interface, and the CLI decides what reaches stderr. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** A logger that drops everything (the library's default). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
