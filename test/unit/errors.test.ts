import { describe, expect, it } from 'vitest';
import { EXIT_CODES, exitCodeFor, StargzError, toStargzError } from '../../src/errors.js';

describe('StargzError', () => {
  it('carries a code, details and cause, and is recognised by its brand', () => {
    const cause = new Error('low level');
    const err = new StargzError('E_NOT_FOUND', 'manifest not found', { cause, details: { ref: 'x' } });
    expect(StargzError.is(err)).toBe(true);
    expect(StargzError.is(new Error('x'))).toBe(false);
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.cause).toBe(cause);
    expect(err.toJSON()).toEqual({
      code: 'E_NOT_FOUND',
      message: 'manifest not found',
      details: { ref: 'x' },
    });
  });

  it.each([
    ['E_USAGE', EXIT_CODES.usage],
    ['E_NOT_FOUND', EXIT_CODES.notFound],
    ['E_AUTH', EXIT_CODES.auth],
    ['E_NOT_ESTARGZ', EXIT_CODES.unsupported],
    ['E_DIGEST_MISMATCH', EXIT_CODES.integrity],
    ['E_NETWORK', EXIT_CODES.network],
    ['E_RATE_LIMITED', EXIT_CODES.network],
    ['E_UNSAFE_PATH', EXIT_CODES.unsafePath],
    ['E_INTERNAL', EXIT_CODES.failure],
  ] as const)('maps %s to exit %i', (code, exit) => {
    expect(exitCodeFor(new StargzError(code, 'x'))).toBe(exit);
  });

  it('wraps foreign errors', () => {
    expect(toStargzError(new Error('boom'), 'E_IO').code).toBe('E_IO');
    expect(exitCodeFor(new Error('plain'))).toBe(1);
  });
});
