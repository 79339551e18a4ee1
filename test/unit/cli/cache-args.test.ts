import { describe, expect, it } from 'vitest';
import { parseAge } from '../../../src/cli/commands/cache.js';
import { parseTailSize } from '../../../src/cli/flags.js';
import { StargzError } from '../../../src/errors.js';

describe('parseAge (cache prune --older-than)', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['2w', 14 * 86_400_000],
    ['1.5h', 5_400_000],
    ['500ms', 500],
    [' 10s ', 10_000],
  ])('%s = %i ms', (text, ms) => {
    expect(parseAge(text)).toBe(ms);
  });

  it.each(['', '30', 'd', '-1d', '3 days', '1y'])('rejects %j with E_USAGE', (text) => {
    const error = (() => {
      try {
        return parseAge(text);
      } catch (e) {
        return e;
      }
    })();
    expect(StargzError.is(error) && error.code).toBe('E_USAGE');
  });
});

describe('parseTailSize (--tail-size)', () => {
  it.each([
    ['51', 51],
    ['262144', 262144],
    ['256k', 262144],
    ['256KiB', 262144],
    ['1m', 1048576],
    ['64M', 64 * 1048576],
  ])('%s = %i bytes', (text, bytes) => {
    expect(parseTailSize(text)).toBe(bytes);
  });

  it.each(['50', '0', '65m', 'big', '1.5m', ''])('rejects %j', (text) => {
    expect(() => parseTailSize(text)).toThrow(/--tail-size/);
  });
});
