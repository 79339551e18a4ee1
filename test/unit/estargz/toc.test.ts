import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { parseTocJson, parseTocMember } from '../../../src/estargz/toc.js';

const ctx = { tocOffset: 10_000, blobSize: 11_000 };
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function parse(entries: unknown[], extra: Record<string, unknown> = {}) {
  return parseTocJson(JSON.stringify({ version: 1, entries, ...extra }), ctx);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(StargzError.is(error)).toBe(true);
    return (error as StargzError).code;
  }
  return undefined;
}

describe('parseTocJson', () => {
  it('normalises names, keeps raw names and order, and drops the root', () => {
    const toc = parse([
      { name: './', type: 'dir' },
      { name: './etc/', type: 'dir', mode: 0o40755 },
      { name: '/abs', type: 'reg' },
      { name: '../up/./x', type: 'symlink', linkName: '../target' },
      { name: 'safe/../../escape2', type: 'fifo' },
      { name: 'hl', type: 'hardlink', linkName: './../up/x' },
    ]);
    expect(toc.entries.map((e) => [e.name, e.rawName, e.type])).toEqual([
      ['etc', './etc/', 'dir'],
      ['abs', '/abs', 'reg'],
      ['up/x', '../up/./x', 'symlink'],
      ['escape2', 'safe/../../escape2', 'fifo'],
      ['hl', 'hl', 'hardlink'],
    ]);
    expect(toc.entries[0]?.mode).toBe(0o755);
    expect(toc.entries[2]?.linkName).toBe('../target');
    expect(toc.entries[4]?.linkName).toBe('up/x');
  });

  it('reads every field, decodes xattrs, ignores unknown keys, and defaults absent ones to zero', () => {
    const toc = parse([
      {
        name: 'dev/null',
        type: 'char',
        devMajor: 1,
        devMinor: 3,
        mode: 0o4755,
        uid: 1000,
        gid: 1001,
        userName: 'alice',
        groupName: 'staff',
        modtime: '2020-01-01T00:00:00Z',
        xattrs: { 'user.a': Buffer.from('v\0x').toString('base64') },
        somethingNew: { nested: true },
      },
      { name: 'd', type: 'dir' },
    ]);
    expect(toc.entries[0]).toEqual({
      name: 'dev/null',
      rawName: 'dev/null',
      type: 'char',
      size: 0,
      mode: 0o4755,
      uid: 1000,
      gid: 1001,
      userName: 'alice',
      groupName: 'staff',
      modtime: '2020-01-01T00:00:00Z',
      linkName: '',
      devMajor: 1,
      devMinor: 3,
      xattrs: { 'user.a': new Uint8Array(Buffer.from('v\0x')) },
      chunks: [],
    });
    expect(toc.entries[1]).toMatchObject({ mode: 0, uid: 0, gid: 0, xattrs: {}, chunks: [] });
    expect(toc.entries[1]?.modtime).toBeUndefined();
    expect(toc.entries[1]?.userName).toBeUndefined();
  });

  it('carries userName/groupName forward per id, and takes a new name when one is written', () => {
    const toc = parse([
      { name: 'a', type: 'dir', uid: 1, gid: 2, userName: 'u1', groupName: 'g2' },
      { name: 'b', type: 'dir', uid: 1, gid: 3 },
      { name: 'c', type: 'dir', uid: 5, gid: 2 },
      { name: 'd', type: 'dir', uid: 1, gid: 2, userName: 'renamed' },
      { name: 'e', type: 'dir', uid: 1, gid: 2 },
    ]);
    expect(toc.entries.map((e) => [e.userName, e.groupName])).toEqual([
      ['u1', 'g2'],
      ['u1', undefined],
      [undefined, 'g2'],
      ['renamed', 'g2'],
      ['renamed', 'g2'],
    ]);
  });

  it('folds chunk entries into their file, resolves chunkSize 0 and computes compressed extents', () => {
    const toc = parse([
      { name: 'small', type: 'reg', size: 5, offset: 100, digest: D1 },
      { name: 'empty', type: 'reg', size: 0, digest: D2 },
      { name: 'big', type: 'reg', size: 250, offset: 200, chunkSize: 100, chunkDigest: D1, digest: D2 },
      { name: 'big', type: 'chunk', offset: 300, chunkOffset: 100, chunkSize: 100, chunkDigest: D2 },
      { name: 'big', type: 'chunk', offset: 400, chunkOffset: 200 },
      { name: 'link', type: 'symlink', linkName: 'big' },
    ]);
    const [small, empty, big] = toc.entries;
    expect(small?.chunks).toEqual([
      { offset: 100, innerOffset: 0, compressedEnd: 200, chunkOffset: 0, chunkSize: 5, chunkDigest: D1 },
    ]);
    expect(empty?.chunks).toEqual([]);
    expect(big?.chunks).toEqual([
      { offset: 200, innerOffset: 0, compressedEnd: 300, chunkOffset: 0, chunkSize: 100, chunkDigest: D1 },
      { offset: 300, innerOffset: 0, compressedEnd: 400, chunkOffset: 100, chunkSize: 100, chunkDigest: D2 },
      { offset: 400, innerOffset: 0, compressedEnd: 10_000, chunkOffset: 200, chunkSize: 50 },
    ]);
    expect(toc.entries).toHaveLength(4);
  });

  it('gives files sharing a member (innerOffset) the extent of that member', () => {
    const toc = parse([
      { name: 'a', type: 'reg', size: 5, offset: 100 },
      { name: 'b', type: 'reg', size: 6, offset: 100, innerOffset: 1024 },
      { name: 'dir', type: 'dir' },
      { name: 'c', type: 'reg', size: 7, offset: 100, innerOffset: 2560 },
      { name: 'd', type: 'reg', size: 8, offset: 180 },
    ]);
    expect(
      toc.entries.flatMap((e) => e.chunks.map((c) => [c.offset, c.innerOffset, c.compressedEnd])),
    ).toEqual([
      [100, 0, 180],
      [100, 1024, 180],
      [100, 2560, 180],
      [180, 0, 10_000],
    ]);
  });

  it('ends an extent at a shared member whose first listed file has an innerOffset (every member start ends an extent)', () => {
    // the member at 200 starts with bytes no listed payload begins at (a tar header): every file in it has
    // innerOffset > 0, yet 200 is still a member start, so "a" ends there
    const toc = parse([
      { name: 'a', type: 'reg', size: 10, offset: 100 },
      { name: 'b', type: 'reg', size: 10, offset: 200, innerOffset: 512 },
      { name: 'c', type: 'reg', size: 10, offset: 200, innerOffset: 1034 },
      { name: 'd', type: 'reg', size: 10, offset: 300 },
    ]);
    expect(
      toc.entries.flatMap((e) => e.chunks.map((c) => [c.offset, c.innerOffset, c.compressedEnd])),
    ).toEqual([
      [100, 0, 200],
      [200, 512, 300],
      [200, 1034, 300],
      [300, 0, 10_000],
    ]);
  });

  it('accepts an empty or absent entry list', () => {
    expect(parse([]).entries).toEqual([]);
    expect(parseTocJson('{"version":1}', ctx)).toEqual({ version: 1, entries: [] });
  });

  it.each([
    ['invalid JSON', '{"version":1,', 'E_TOC_INVALID'],
    ['JSON that is not an object', '[1,2]', 'E_TOC_INVALID'],
    ['no version', '{"entries":[]}', 'E_TOC_INVALID'],
    ['version 2', '{"version":2,"entries":[]}', 'E_UNSUPPORTED'],
    ['entries not an array', '{"version":1,"entries":{}}', 'E_TOC_INVALID'],
  ])('rejects %s', (_label, json, code) => {
    expect(codeOf(() => parseTocJson(json, ctx))).toBe(code);
  });

  const reg = (extra: Record<string, unknown> = {}) => ({
    name: 'f',
    type: 'reg',
    size: 10,
    offset: 100,
    ...extra,
  });
  it.each([
    ['an entry that is not an object', ['x']],
    ['a missing name', [{ type: 'dir' }]],
    ['an unknown type', [{ name: 'x', type: 'socket' }]],
    ['a missing type', [{ name: 'x' }]],
    ['a name with a NUL byte', [{ name: 'a\0b', type: 'dir' }]],
    ['a non-directory root', [{ name: './', type: 'reg' }]],
    ['a chunk with no file before it', [{ name: 'f', type: 'chunk', offset: 100, chunkOffset: 0 }]],
    [
      'a chunk after a different file',
      [reg({ chunkSize: 5 }), { name: 'g', type: 'chunk', offset: 200, chunkOffset: 5 }],
    ],
    [
      'a chunk after a directory',
      [
        { name: 'f', type: 'dir' },
        { name: 'f', type: 'chunk', offset: 200 },
      ],
    ],
    ['a negative size', [reg({ size: -1 })]],
    ['a negative offset', [reg({ offset: -5 })]],
    ['a fractional size', [reg({ size: 1.5 })]],
    ['a size as a string', [reg({ size: '10' })]],
    ['a negative uid', [{ name: 'd', type: 'dir', uid: -1 }]],
    ['an offset past the TOC', [reg({ offset: 10_001 })]],
    ['a payload at the TOC offset', [reg({ offset: 10_000 })]],
    ['a first chunk not at 0', [reg({ chunkOffset: 4 })]],
    [
      'non-contiguous chunks',
      [reg({ chunkSize: 4 }), { name: 'f', type: 'chunk', offset: 200, chunkOffset: 5 }],
    ],
    ['chunks shorter than the file', [reg({ chunkSize: 4 })]],
    [
      'chunks longer than the file',
      [reg({ chunkSize: 4 }), { name: 'f', type: 'chunk', offset: 200, chunkOffset: 4, chunkSize: 9 }],
    ],
    [
      'chunks after an empty file',
      [reg({ size: 0, offset: 0 }), { name: 'f', type: 'chunk', offset: 200, chunkOffset: 0, chunkSize: 3 }],
    ],
    [
      'payload offsets going backwards',
      [reg({ offset: 500 }), { name: 'g', type: 'reg', size: 3, offset: 100 }],
    ],
    [
      'a shared member split by another',
      [reg(), reg({ name: 'g', offset: 300 }), reg({ name: 'h', innerOffset: 600 })],
    ],
    ['a malformed digest', [reg({ digest: 'sha256:abc' })]],
    ['a malformed chunkDigest', [reg({ chunkDigest: 'md5:00' })]],
    ['xattrs that are not base64', [{ name: 'd', type: 'dir', xattrs: { 'user.a': '!!' } }]],
    ['xattrs that are not an object', [{ name: 'd', type: 'dir', xattrs: ['a'] }]],
    ['a hardlink without a target', [{ name: 'h', type: 'hardlink' }]],
    ['a symlink without a target', [{ name: 'l', type: 'symlink' }]],
    ['a modtime that is not a string', [{ name: 'd', type: 'dir', modtime: 5 }]],
  ])('rejects %s with E_TOC_INVALID', (_label, entries) => {
    expect(codeOf(() => parse(entries))).toBe('E_TOC_INVALID');
  });

  it('names the entry at fault in the error', () => {
    try {
      parse([{ name: 'ok', type: 'dir' }, reg({ size: -1 })]);
      expect.unreachable();
    } catch (error) {
      expect((error as StargzError).message).toContain('entry 1 ("f")');
      expect((error as StargzError).details).toMatchObject({ index: 1, name: 'f' });
    }
  });

  it('uses the file digest as the chunk digest of a single-chunk file without one', () => {
    const toc = parse([reg({ digest: D1 })]);
    expect(toc.entries[0]?.chunks[0]?.chunkDigest).toBe(D1);
  });
});

describe('parseTocMember', () => {
  it('rejects a member that is not gzip, or holds no stargz.index.json', () => {
    expect(codeOf(() => parseTocMember(Buffer.from('not gzip at all, sorry'), ctx))).toBe('E_TOC_INVALID');
    expect(codeOf(() => parseTocMember(gzipSync(Buffer.alloc(1024)), ctx))).toBe('E_TOC_INVALID');
    expect(codeOf(() => parseTocMember(gzipSync(Buffer.from('x'.repeat(700))), ctx))).toBe('E_TOC_INVALID');
  });

  it('refuses to inflate past the size cap (gzip bomb)', () => {
    const bomb = gzipSync(Buffer.alloc(160 * 1024 * 1024), { level: 1 });
    let error: unknown;
    try {
      parseTocMember(bomb, ctx);
    } catch (e) {
      error = e;
    }
    expect(StargzError.is(error) && error.code).toBe('E_TOC_INVALID');
    expect((error as Error).message).toContain('more than');
  });
});
