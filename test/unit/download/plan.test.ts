import { describe, expect, it } from 'vitest';
import { coalesceRanges, planDownload } from '../../../src/download/plan.js';
import type { DownloadEntry, MemberRequest } from '../../../src/download/types.js';
import { StargzError } from '../../../src/errors.js';
import type { TocChunk } from '../../../src/estargz/types.js';

const L1 = 'sha256:' + '1'.repeat(64);
const L2 = 'sha256:' + '2'.repeat(64);

function chunk(offset: number, compressedEnd: number, extra: Partial<TocChunk> = {}): TocChunk {
  return { offset, compressedEnd, innerOffset: 0, chunkOffset: 0, chunkSize: 10, ...extra };
}

function request(c: TocChunk, tag: string): MemberRequest<string> {
  return { chunk: c, tag };
}

function entry(path: string, extra: Partial<DownloadEntry> = {}): DownloadEntry {
  return { path, type: 'reg', mode: 0o644, uid: 0, gid: 0, size: 0, chunks: [], layerDigest: L1, ...extra };
}

/** A regular file with one chunk per [offset, end) pair, each chunk 10 bytes. */
function file(path: string, extents: [number, number][], extra: Partial<DownloadEntry> = {}): DownloadEntry {
  const chunks = extents.map(([offset, end], i) =>
    chunk(offset, end, { chunkOffset: i * 10, chunkDigest: `sha256:${path}-${i}` }),
  );
  return entry(path, { size: chunks.length * 10, chunks, ...extra });
}

describe('coalesceRanges', () => {
  const cases: {
    name: string;
    extents: [number, number, number?][];
    options?: { maxGap?: number; maxRangeBytes?: number };
    expected: [number, number, string[]][];
  }[] = [
    { name: 'nothing', extents: [], expected: [] },
    { name: 'one member', extents: [[100, 200]], expected: [[100, 200, ['a']]] },
    {
      name: 'adjacent members merge',
      extents: [
        [100, 200],
        [200, 300],
      ],
      expected: [[100, 300, ['a', 'b']]],
    },
    {
      name: 'a gap within maxGap merges',
      extents: [
        [100, 200],
        [250, 300],
      ],
      options: { maxGap: 50 },
      expected: [[100, 300, ['a', 'b']]],
    },
    {
      name: 'a gap beyond maxGap splits',
      extents: [
        [100, 200],
        [251, 300],
      ],
      options: { maxGap: 50 },
      expected: [
        [100, 200, ['a']],
        [251, 300, ['b']],
      ],
    },
    {
      name: 'maxRangeBytes caps a range',
      extents: [
        [0, 40],
        [40, 80],
        [80, 120],
      ],
      options: { maxRangeBytes: 80 },
      expected: [
        [0, 80, ['a', 'b']],
        [80, 120, ['c']],
      ],
    },
    {
      name: 'a member larger than maxRangeBytes is read alone',
      extents: [
        [0, 10],
        [10, 500],
        [500, 510],
      ],
      options: { maxRangeBytes: 100 },
      expected: [
        [0, 10, ['a']],
        [10, 500, ['b']],
        [500, 510, ['c']],
      ],
    },
    {
      name: 'input order does not matter',
      extents: [
        [300, 400],
        [0, 100],
        [100, 200],
      ],
      options: { maxGap: 0 },
      expected: [
        [0, 200, ['b', 'c']],
        [300, 400, ['a']],
      ],
    },
    {
      name: 'chunks sharing one member stay in one range even past the cap, ordered by innerOffset',
      extents: [
        [0, 100, 20],
        [0, 100, 0],
        [0, 100, 50],
      ],
      options: { maxRangeBytes: 10, maxGap: 0 },
      expected: [[0, 100, ['b', 'a', 'c']]],
    },
  ];
  it.each(cases)('$name', ({ extents, options, expected }) => {
    const requests = extents.map(([offset, end, inner], i) =>
      request(chunk(offset, end, { innerOffset: inner ?? 0 }), String.fromCharCode(97 + i)),
    );
    const ranges = coalesceRanges(L1, requests, options);
    expect(ranges.map((r) => [r.start, r.end, r.requests.map((q) => q.tag)])).toEqual(expected);
    for (const range of ranges) {
      expect(range.layerDigest).toBe(L1);
      for (const q of range.requests) {
        expect(q.chunk.offset).toBeGreaterThanOrEqual(range.start);
        expect(q.chunk.compressedEnd).toBeLessThanOrEqual(range.end);
      }
    }
  });

  it('the default gap merges a directory of small files into one request', () => {
    const requests = Array.from({ length: 200 }, (_, i) =>
      request(chunk(1000 + i * 300, 1000 + i * 300 + 250), `f${i}`),
    );
    expect(coalesceRanges(L1, requests)).toHaveLength(1);
  });
});

describe('planDownload', () => {
  it('sorts entries by kind, parents before children', () => {
    const plan = planDownload([
      entry('a/b', { type: 'dir' }),
      entry('a', { type: 'dir' }),
      entry('s', { type: 'symlink', linkName: 'a' }),
      entry('dev/null', { type: 'char', devMajor: 1, devMinor: 3 }),
      entry('p', { type: 'fifo' }),
      entry('empty'),
    ]);
    expect(plan.dirs.map((e) => e.path)).toEqual(['a', 'a/b']);
    expect(plan.symlinks.map((e) => e.path)).toEqual(['s']);
    expect(plan.specials.map((e) => e.path)).toEqual(['dev/null', 'p']);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['empty']);
    expect(plan.ranges).toEqual([]);
    expect(plan.bytesToFetch).toBe(0);
  });

  it('groups by layer, splits a chunked file across ranges and keeps chunk digests', () => {
    const big = file(
      'big',
      [
        [0, 60],
        [60, 120],
        [120, 180],
      ],
      { layerDigest: L2 },
    );
    const small = file('small', [[500, 520]]);
    const plan = planDownload([big, small], { maxRangeBytes: 100, maxGap: 10 });
    expect(plan.ranges.map((r) => [r.layerDigest, r.start, r.end])).toEqual([
      [L2, 0, 60],
      [L2, 60, 120],
      [L2, 120, 180],
      [L1, 500, 520],
    ]);
    expect(plan.ranges[1]!.requests[0]!.tag).toEqual({ file: plan.files[0], index: 1 });
    expect(plan.ranges[1]!.requests[0]!.expectedDigest).toBe('sha256:big-1');
    expect(plan.bytesToFetch).toBe(200);
  });

  it('leaves digests out with verify: false', () => {
    const plan = planDownload([file('f', [[0, 10]])], { verify: false });
    expect(plan.ranges[0]!.requests[0]!.expectedDigest).toBeUndefined();
  });

  it('fetches hardlinked content once and links the other names', () => {
    const target = file('data/orig', [[0, 50]]);
    const link1 = file('other/link', [[0, 50]], { hardlinkOf: 'data/orig' });
    const plan = planDownload([link1, target]);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['data/orig']);
    expect(plan.hardlinks.map((h) => [h.entry.path, h.target.entry.path])).toEqual([
      ['other/link', 'data/orig'],
    ]);
    expect(plan.ranges.flatMap((r) => r.requests)).toHaveLength(1);
  });

  it('fetches a hardlink whose target is not wanted, once for all its names', () => {
    const a = file('x/a', [[0, 50]], { hardlinkOf: 'orig' });
    const b = file('x/b', [[0, 50]], { hardlinkOf: 'orig' });
    const plan = planDownload([a, b]);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['x/a']);
    expect(plan.hardlinks.map((h) => [h.entry.path, h.target.entry.path])).toEqual([['x/b', 'x/a']]);
  });

  it('links names sharing a sourcePath (a hardlink whose first name was whited out)', () => {
    const a = file('other/survivor', [[0, 50]], { sourcePath: 'data/orig' });
    const b = file('other/second', [[0, 50]], { sourcePath: 'data/orig' });
    const plan = planDownload([a, b]);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['other/survivor']);
    expect(plan.hardlinks.map((h) => [h.entry.path, h.target.entry.path])).toEqual([
      ['other/second', 'other/survivor'],
    ]);
  });

  it('does not link names whose content differs, whatever they claim', () => {
    const a = file('a', [[0, 50]], { sourcePath: 'same' });
    const b = file('b', [[60, 90]], { sourcePath: 'same' });
    const c = file('c', [[0, 50]], { sourcePath: 'same', digest: 'sha256:other' });
    const plan = planDownload([a, b, c]);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['a', 'b', 'c']);
    expect(plan.hardlinks).toEqual([]);
  });

  it('does not link across layers', () => {
    const target = file('orig', [[0, 50]], { layerDigest: L2 });
    const link = file('link', [[0, 50]], { hardlinkOf: 'orig' });
    const plan = planDownload([target, link]);
    expect(plan.files.map((f) => f.entry.path)).toEqual(['orig', 'link']);
    expect(plan.hardlinks).toEqual([]);
  });

  it.each([
    ['size not covered', file('f', [[0, 10]], { size: 11 })],
    ['chunk gap', entry('f', { size: 20, chunks: [chunk(0, 5), chunk(5, 9, { chunkOffset: 11 })] })],
    ['empty extent', entry('f', { size: 10, chunks: [chunk(5, 5)] })],
    ['no chunks for a non-empty file', entry('f', { size: 3 })],
  ])('refuses inconsistent chunks: %s', (_name, bad) => {
    let error: unknown;
    try {
      planDownload([bad]);
    } catch (e) {
      error = e;
    }
    expect(StargzError.is(error) && error.code).toBe('E_TOC_INVALID');
  });
});
