import { describe, expect, it } from 'vitest';
import { createStderrLogger, formatFieldValue, formatLogLine, logLevelFor } from '../../../src/cli/logger.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error', json = false) {
  const lines: string[] = [];
  let t = 1000;
  const logger = createStderrLogger({ level, json, write: (l) => lines.push(l), now: () => (t += 5) });
  return { lines, logger };
}

describe('stderr logger', () => {
  it('writes only at and above its level', () => {
    const { lines, logger } = capture('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w', { layer: 'sha256:x' });
    logger.error('e');
    expect(lines).toEqual(['starget: WARN w layer=sha256:x\n', 'starget: ERROR e\n']);
  });

  it('adds the elapsed time at debug level', () => {
    const { lines, logger } = capture('debug');
    logger.debug('GET', { status: 206, url: 'https://r/v2/x' });
    expect(lines[0]).toBe('starget: DEBUG +5ms GET status=206 url=https://r/v2/x\n');
  });

  it('writes JSON lines when asked', () => {
    const { lines, logger } = capture('info', true);
    logger.info('opened', { layers: 3 });
    expect(JSON.parse(lines[0]!)).toEqual({ level: 'info', message: 'opened', layers: 3 });
  });

  it('quotes field values that need it', () => {
    expect(formatFieldValue('a b')).toBe('"a b"');
    expect(formatFieldValue('')).toBe('""');
    expect(formatFieldValue(3)).toBe('3');
    expect(formatFieldValue({ a: 1 })).toBe('{"a":1}');
    expect(formatFieldValue(new Error('boom'))).toBe('"boom"');
    expect(formatLogLine('info', 'm', { skip: undefined, k: 'v' })).toBe('starget: INFO m k=v\n');
  });

  it('maps flags to levels', () => {
    expect(logLevelFor({})).toBe('warn');
    expect(logLevelFor({ verbose: true })).toBe('info');
    expect(logLevelFor({ debug: true })).toBe('debug');
    expect(logLevelFor({ verbose: true, debug: true })).toBe('debug');
  });
});
