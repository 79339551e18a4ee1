import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RETRY,
  isRetryableNetworkError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
  retriesExhaustedError,
} from '../../../src/registry/retry.js';

const policy: RetryOptions = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 60_000 };

describe('backoffDelay', () => {
  it.each([
    // attempt, random, expected: min(base * 2^attempt + random * base * 2^attempt, max)
    [0, 0, 100],
    [0, 0.5, 150],
    [0, 0.999, 199.9],
    [1, 0, 200],
    [1, 0.5, 300],
    [2, 0, 400],
    [2, 0.25, 500],
    [3, 0, 800],
    [3, 0.5, 1000], // 1200 capped
    [10, 0, 1000],
  ])('attempt %i with random %f waits %f ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, policy, () => random)).toBeCloseTo(expected, 6);
  });

  it('stays within [base*2^n, min(2*base*2^n, max)) for any random draw', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, policy);
        const exponential = policy.baseDelayMs * 2 ** attempt;
        expect(delay).toBeGreaterThanOrEqual(Math.min(exponential, policy.maxDelayMs));
        expect(delay).toBeLessThanOrEqual(Math.min(2 * exponential, policy.maxDelayMs));
      }
    }
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY).toMatchObject({ maxRetries: 3, baseDelayMs: 200, maxDelayMs: 10_000 });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['0', 0],
    ['3', 3000],
    [' 120 ', 120_000],
    ['1.5', 1500],
    ['-4', 0],
    ['Wed, 01 Jan 2025 00:00:10 GMT', 10_000],
    ['Tue, 31 Dec 2024 23:59:00 GMT', 0],
    ['soon', undefined],
  ])('%j → %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('isRetryableStatus', () => {
  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [501, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [416, false],
    [200, false],
  ])('%i → %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });
});

describe('isRetryableNetworkError', () => {
  const withCode = (code: string, cause?: unknown): Error =>
    Object.assign(new Error('x', { cause }), { code });
  it.each([
    ['ECONNRESET', withCode('ECONNRESET'), true],
    ['ECONNREFUSED', withCode('ECONNREFUSED'), true],
    ['undici socket error', withCode('UND_ERR_SOCKET'), true],
    ['body timeout', withCode('UND_ERR_BODY_TIMEOUT'), true],
    [
      'terminated with socket cause',
      new TypeError('terminated', { cause: withCode('UND_ERR_SOCKET') }),
      true,
    ],
    ['code on the cause', new Error('fetch failed', { cause: withCode('ECONNRESET') }), true],
    ['DNS name not found', withCode('ENOTFOUND'), false],
    ['certificate error', withCode('CERT_HAS_EXPIRED'), false],
    ['plain error', new Error('boom'), false],
  ])('%s → %s', (_name, error, retryable) => {
    expect(isRetryableNetworkError(error)).toBe(retryable);
  });
});

describe('retriesExhaustedError', () => {
  const base = {
    method: 'GET',
    url: 'https://r/v2/x',
    said: undefined,
    attempts: 4,
    retryAfterMs: undefined,
    maxRetryAfterMs: 60_000,
  };
  it('is E_RATE_LIMITED for 429, naming the registry message and a long wait', () => {
    const error = retriesExhaustedError({
      ...base,
      status: 429,
      said: 'slow down',
      retryAfterMs: 3_600_000,
      attempts: 1,
    });
    expect(error.code).toBe('E_RATE_LIMITED');
    expect(error.message).toBe(
      'GET https://r/v2/x was rate-limited (HTTP 429 (slow down)) after 1 attempt(s); the registry asks to wait 3600 s',
    );
  });
  it('is E_NETWORK for 5xx, naming the status and attempts', () => {
    const error = retriesExhaustedError({ ...base, status: 503 });
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toBe('GET https://r/v2/x failed with HTTP 503 after 4 attempt(s)');
    expect(error.details).toMatchObject({ status: 503, attempts: 4 });
  });
});
