import { describe, expect, it } from 'vitest';
import { decodeEntry, ENTRY_FORMAT, encodeEntry } from '../../../src/cache/entry-file.js';
import { defaultCacheDir, digestOf, matchesDigest, parseDigest } from '../../../src/cache/index.js';

describe('defaultCacheDir', () => {
  it.each([
    [{ XDG_CACHE_HOME: '/x/cache' }, '/home/u', '/x/cache/starget'],
    [{ XDG_CACHE_HOME: '' }, '/home/u', '/home/u/.cache/starget'],
    [{ XDG_CACHE_HOME: 'relative/cache' }, '/home/u', '/home/u/.cache/starget'],
    [{}, '/root', '/root/.cache/starget'],
  ])('%j with home %s gives %s', (env, home, expected) => {
    expect(defaultCacheDir(env, home)).toBe(expected);
  });
});

describe('digests', () => {
  const hex64 = 'a'.repeat(64);
  it.each([
    [`sha256:${hex64}`, { algorithm: 'sha256', hex: hex64 }],
    [`sha512:${'b'.repeat(128)}`, { algorithm: 'sha512', hex: 'b'.repeat(128) }],
    [`sha256:${'a'.repeat(63)}`, undefined],
    [`sha256:${hex64}\n`, undefined],
    [`sha256:${'g'.repeat(64)}`, undefined],
    [`sha512:${hex64}`, undefined],
    [`sha256/${hex64}`, undefined],
  ])('parseDigest(%j)', (input, expected) => {
    expect(parseDigest(input)).toEqual(expected);
  });

  it('hashes and matches with the algorithm the digest names', () => {
    const bytes = Buffer.from('hello');
    expect(digestOf(bytes)).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(matchesDigest(bytes, digestOf(bytes, 'sha512'))).toBe(true);
    expect(matchesDigest(Buffer.from('hellO'), digestOf(bytes))).toBe(false);
    expect(matchesDigest(bytes, 'sha256:nope')).toBe(false);
  });
});

describe('cache entry files', () => {
  const payload = Buffer.from('{"version":1}');
  const toc = {
    format: ENTRY_FORMAT,
    kind: 'toc',
    layerDigest: 'sha256:1',
    tocDigest: 'sha256:2',
    footer: { kind: 'estargz', size: 51, tocOffset: 100 },
    blobSize: 200,
    payload: 'json',
    payloadBytes: payload.length,
  } as const;

  it('round-trips a header and payload', () => {
    const decoded = decodeEntry(encodeEntry(toc, payload));
    expect(decoded).toEqual({ ok: true, header: toc, payload });
  });

  const header = (patch: Record<string, unknown>) => Buffer.from(`${JSON.stringify({ ...toc, ...patch })}\n`);
  it.each([
    ['no newline', Buffer.from('{"format":"starget-cache/1"}')],
    ['a newline too far in', Buffer.from(`${' '.repeat(5000)}\n`)],
    ['non-JSON header', Buffer.from('{nope\n')],
    ['a JSON array', Buffer.from('[]\n')],
    ['another format', header({ format: 'starget-cache/2' })],
    ['an unknown kind', header({ kind: 'blob' })],
    ['an unknown payload form', header({ payload: 'zstd' })],
    ['a negative payload size', header({ payloadBytes: -1 })],
    ['a fractional blob size', header({ blobSize: 1.5 })],
    ['a footer kind that is unknown', header({ footer: { kind: 'zstd', size: 51, tocOffset: 1 } })],
    [
      'a footer size that does not match its kind',
      header({ footer: { kind: 'legacy', size: 51, tocOffset: 1 } }),
    ],
    ['a footer past the blob end', header({ footer: { kind: 'estargz', size: 51, tocOffset: 150 } })],
    ['a manifest without digest', header({ kind: 'manifest', digest: 3 })],
    ['a payload shorter than the header says', Buffer.concat([header({}), payload.subarray(1)])],
  ])('rejects %s', (_name, bytes) => {
    const decoded = decodeEntry(bytes);
    expect(decoded.ok).toBe(false);
  });
});
