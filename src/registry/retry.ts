/**
 * Retry policy math: which failures are worth another try, how long to wait (exponential backoff with
 * jitter), and what `Retry-After` asks for. Pure functions; the transport does the waiting.
 */

import { StargzError } from '../errors.js';

export interface RetryOptions {
  /** retries after the first attempt (default 3) */
  maxRetries: number;
  /** backoff base in ms (default 200) */
  baseDelayMs: number;
  /** longest backoff wait in ms (default 10 000) */
  maxDelayMs: number;
  /**
   * the longest `Retry-After` starget waits for, in ms (default 60 000); a server asking for longer
   * ends the retries at once with its wait named in the error
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 3,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/**
 * The wait before retry number `attempt` (0 for the first retry): `min(base * 2^attempt + jitter, max)`
 * with the jitter drawn uniformly from [0, base * 2^attempt), so concurrent clients spread out.
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number {
  const exponential = options.baseDelayMs * 2 ** Math.max(0, attempt);
  const jitter = random() * exponential;
  return Math.max(0, Math.min(exponential + jitter, options.maxDelayMs));
}

/**
 * Reads a `Retry-After` value: delay seconds or an HTTP date. Returns the wait in ms (never negative),
 * or undefined when the value is absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Math.round(Number(trimmed) * 1000));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Statuses retried: 408, 429 and every 5xx except 501 (not implemented will not change). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

const RETRYABLE_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** The error code of a network error (or of its cause), when it has one. */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A network error for messages: its message, with its code when the message does not say it. */
export function describeCause(error: unknown): string {
  const code = networkErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

/** True for a transient connection failure: reset, refused, timeout, closed socket, short body. */
export function isRetryableNetworkError(error: unknown): boolean {
  const code = networkErrorCode(error);
  if (code !== undefined && RETRYABLE_ERROR_CODES.has(code)) return true;
  // undici reports a socket closed mid-body as a plain "terminated" TypeError with a SocketError cause
  return error instanceof Error && error.message === 'terminated';
}

export interface ExhaustedRetries {
  method: string;
  /** redacted URL */
  url: string;
  status: number;
  /** the registry's own message, if any */
  said: string | undefined;
  attempts: number;
  retryAfterMs: number | undefined;
  maxRetryAfterMs: number;
}

/** The error for a retryable status that persisted: E_RATE_LIMITED for 429, else E_NETWORK, naming it. */
export function retriesExhaustedError(last: ExhaustedRetries): StargzError {
  const said = last.said === undefined ? '' : ` (${last.said})`;
  const where = `${last.method} ${last.url}`;
  const attempts = `after ${last.attempts} attempt(s)`;
  const details = {
    url: last.url,
    status: last.status,
    attempts: last.attempts,
    retryAfterMs: last.retryAfterMs,
  };
  if (last.status === 429) {
    const wait =
      last.retryAfterMs !== undefined && last.retryAfterMs > last.maxRetryAfterMs
        ? `; the registry asks to wait ${Math.ceil(last.retryAfterMs / 1000)} s`
        : '';
    return new StargzError(
      'E_RATE_LIMITED',
      `${where} was rate-limited (HTTP 429${said}) ${attempts}${wait}`,
      {
        details,
      },
    );
  }
  return new StargzError('E_NETWORK', `${where} failed with HTTP ${last.status}${said} ${attempts}`, {
    details,
  });
}
