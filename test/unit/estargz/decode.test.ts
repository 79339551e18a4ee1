import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { type ChunkSink, decodeMembers, type MemberRequest } from '../../../src/estargz/decode.js';
import { openLayer } from '../../../src/estargz/layer.js';
import type { LayerToc, TocChunk, TocEntry } from '../../../src/estargz/types.js';
import {
  corruptByte,
  payloadPosition,
  type WriterEntry,
  type WriterOptions,
  writeEstargz,
} from '../../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';
import { bodyOf, codeOf, recordingSinks, requestsFor } from './_support.js';

/** Deterministic pseudo-random bytes (so failures reproduce). */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function sampleEntries(): WriterEntry[] {
  const entries: WriterEntry[] = [{ type: 'dir', name: 'd' }];
  for (let i = 0; i < 40; i++) {
    const content =
      i % 5 === 0 ? pseudoRandom(3000 + i * 37, i + 1) : Buffer.from(`file number ${i}\n`.repeat(i + 1));
    entries.push({ type: 'reg', name: `d/f${i}`, content });
    if (i % 7 === 0) entries.push({ type: 'symlink', name: `d/l${i}`, linkName: `f${i}` });
    if (i % 9 === 0) entries.push({ type: 'reg', name: `d/empty${i}` });
  }
  entries.push({ type: 'reg', name: 'd/chunked', content: pseudoRandom(10_000, 99) });
  return entries;
}

async function build(entries: WriterEntry[], options: WriterOptions = {}) {
  const written = writeEstargz(entries, options);
  const layer = await openLayer(new MemoryBlobSource(written.blob), { expectedTocDigest: written.tocDigest });
  const contents = new Map<string, Buffer>();
  for (const e of entries) if (e.type === 'reg') contents.set(e.name, Buffer.from(e.content ?? []));
  const landmark = options.landmark ?? 'no-prefetch';
  if (landmark !== 'none')
    contents.set(
      landmark === 'prefetch' ? '.prefetch.landmark' : '.no.prefetch.landmark',
      Buffer.from([0x0f]),
    );
  return { written, layer, contents };
}

/** The requests for the named files, sorted, and the smallest body range that holds them. */
function rangeFor(layer: LayerToc, names: (name: string) => boolean) {
  const requests = requestsFor(layer.toc.entries.filter((e) => names(e.name)));
  const start = Math.min(...requests.map((r) => r.chunk.offset));
  const end = Math.max(...requests.map((r) => r.chunk.compressedEnd));
  return { requests, start, end };
}

function expectFiles(
  got: Map<string, Buffer>,
  want: Map<string, Buffer>,
  names: (name: string) => boolean,
): void {
  const expected = [...want.entries()].filter(([name, data]) => names(name) && data.length > 0);
  expect(expected.length).toBeGreaterThan(0);
  expect([...got.keys()].sort()).toEqual(expected.map(([name]) => name).sort());
  for (const [name, data] of expected) expect(got.get(name)?.equals(data), name).toBe(true);
}

describe('decodeMembers round trips through writer output', () => {
  const variants: Array<[string, WriterOptions]> = [
    ['one member per payload', {}],
    ['odd chunk sizes', { chunkSize: 1000 }],
    ['small files sharing members (innerOffset)', { shareMembersBelow: 600, chunkSize: 4096 }],
    ['several gzip members per extent', { headersInOwnMember: true, chunkSize: 2049 }],
    [
      'legacy layout without chunk digests',
      { footer: 'legacy', chunkDigests: false, landmark: 'none', chunkSize: 3333 },
    ],
  ];

  it.each(variants)(
    '%s: all files, in one coalesced range, in pieces of every size',
    async (_label, options) => {
      const { written, layer, contents } = await build(sampleEntries(), options);
      if (options.shareMembersBelow) {
        expect(layer.toc.entries.some((e) => e.chunks.some((c) => c.innerOffset > 0))).toBe(true);
      }
      const all = () => true;
      const { requests, start, end } = rangeFor(layer, all);
      for (const pieceSize of [1, 7, 512, 65_536, 1 << 22]) {
        const sinks = recordingSinks();
        await decodeMembers(bodyOf(written.blob, start, end, pieceSize), start, requests, sinks.openSink);
        expectFiles(sinks.files(), contents, all);
        expect(sinks.aborted).toEqual([]);
      }
    },
  );

  it.each(variants)('%s: a subset, skipping the gaps between extents', async (_label, options) => {
    const { written, layer, contents } = await build(sampleEntries(), options);
    const some = (name: string) => /f(\d*[258])$/.test(name) || name === 'd/chunked';
    const { requests, start, end } = rangeFor(layer, some);
    const sinks = recordingSinks();
    await decodeMembers(bodyOf(written.blob, start, end, 333), start, requests, sinks.openSink);
    expectFiles(sinks.files(), contents, some);
  });

  it('decodes from a whole blob and stops reading after the last extent', async () => {
    const { written, layer, contents } = await build(sampleEntries());
    const source = new MemoryBlobSource(written.blob, { ignoreRange: true, pieceSize: 256 });
    const first = (name: string) => name === 'd/f1' || name === 'd/f2';
    const { requests, end } = rangeFor(layer, first);
    const response = await source.readRange(0, written.blob.length);
    expect(response.kind).toBe('whole');
    const sinks = recordingSinks();
    await decodeMembers(response.body, 0, requests, sinks.openSink);
    expectFiles(sinks.files(), contents, first);
    expect(source.bytesServed).toBeLessThan(end + 256);
    expect(source.bytesServed).toBeLessThan(written.blob.length / 2);
  });

  it('serves several requests for the same chunk (overlapping ranges)', async () => {
    const { written, layer, contents } = await build(sampleEntries(), { shareMembersBelow: 600 });
    const file = layer.toc.entries.find((e) => e.name === 'd/f3') as TocEntry;
    const chunk = file.chunks[0] as TocChunk;
    const requests: MemberRequest<string>[] = [
      { chunk, tag: 'one' },
      { chunk, tag: 'two' },
    ];
    const got = new Map<string, Buffer[]>();
    await decodeMembers(
      bodyOf(written.blob, chunk.offset, chunk.compressedEnd),
      chunk.offset,
      requests,
      (req) => {
        const parts: Buffer[] = [];
        got.set(req.tag, parts);
        return { write: (d) => void parts.push(Buffer.from(d)), end: () => {} };
      },
    );
    expect(Buffer.concat(got.get('one') ?? []).equals(contents.get('d/f3') as Buffer)).toBe(true);
    expect(Buffer.concat(got.get('two') ?? []).equals(contents.get('d/f3') as Buffer)).toBe(true);
  });

  it('streams large chunks in bounded pieces and waits for slow sinks', async () => {
    const content = pseudoRandom(6 * 1024 * 1024, 7);
    const { written, layer } = await build([{ type: 'reg', name: 'big', content }], {
      chunkSize: 8 * 1024 * 1024,
    });
    const { requests, start, end } = rangeFor(layer, (n) => n === 'big');
    expect(end - start).toBeGreaterThan(1024 * 1024); // takes the streaming path
    const sinks = recordingSinks({ delay: true });
    await decodeMembers(bodyOf(written.blob, start, end, 100_000), start, requests, sinks.openSink);
    expect(sinks.files().get('big')?.equals(content)).toBe(true);
    expect(sinks.largestWrite).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('stops inflating once the chunk is out (a member that inflates to far more than needed)', async () => {
    const payload = Buffer.from('0123456789');
    const bomb = gzipSync(Buffer.concat([payload, Buffer.alloc(200 * 1024 * 1024)]), { level: 9 });
    expect(bomb.length).toBeLessThan(256 * 1024); // small enough for the synchronous path, which must give up
    const digest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
    for (const size of [payload.length, 2 * 1024 * 1024]) {
      const chunk: TocChunk = {
        offset: 0,
        innerOffset: 0,
        compressedEnd: bomb.length,
        chunkOffset: 0,
        chunkSize: size,
      };
      if (size === payload.length) chunk.chunkDigest = digest;
      const sinks = recordingSinks();
      const requests = [{ chunk, tag: { name: 'bomb' } as TocEntry }];
      await decodeMembers(bodyOf(bomb, 0, bomb.length, 65_536), 0, requests, sinks.openSink);
      expect(sinks.files().get('bomb')?.subarray(0, 10).equals(payload)).toBe(true);
      expect(sinks.files().get('bomb')?.length).toBe(size);
      expect(sinks.largestWrite).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    }
  });

  it('decodes 60,000 small files from one range', async () => {
    const entries: WriterEntry[] = [];
    for (let d = 0; d < 300; d++) {
      entries.push({ type: 'dir', name: `dir${d}` });
      for (let f = 0; f < 200; f++) {
        entries.push({
          type: 'reg',
          name: `dir${d}/file${f}`,
          content: Buffer.from(`${d}/${f};`.repeat(1 + (f % 13))),
        });
      }
    }
    const { written, layer, contents } = await build(entries, { level: 1 });
    const { requests, start, end } = rangeFor(layer, () => true);
    expect(requests).toHaveLength(60_001);
    const sinks = recordingSinks();
    await decodeMembers(bodyOf(written.blob, start, end, 1 << 20), start, requests, sinks.openSink);
    expect(sinks.ended).toBe(60_001);
    const files = sinks.files();
    for (const name of ['dir0/file0', 'dir150/file77', 'dir299/file199']) {
      expect(files.get(name)?.equals(contents.get(name) as Buffer)).toBe(true);
    }
  }, 120_000);
});

describe('decodeMembers failures', () => {
  const entries = sampleEntries();

  it('reports a chunk that does not hash to its digest, aborting (never ending) its sink', async () => {
    const { written, layer } = await build(entries);
    const file = layer.toc.entries.find((e) => e.name === 'd/f4') as TocEntry;
    const chunk = file.chunks[0] as TocChunk;
    const wrong = `sha256:${'a'.repeat(64)}`;
    const calls: string[] = [];
    const sink: ChunkSink = {
      write: () => void calls.push('write'),
      end: () => void calls.push('end'),
      abort: () => void calls.push('abort'),
    };
    const requests = [{ chunk, tag: 1, expectedDigest: wrong, name: 'd/f4' }];
    try {
      await decodeMembers(
        bodyOf(written.blob, chunk.offset, chunk.compressedEnd),
        chunk.offset,
        requests,
        () => sink,
      );
      expect.unreachable();
    } catch (error) {
      expect(StargzError.is(error) && error.code).toBe('E_DIGEST_MISMATCH');
      expect((error as StargzError).details).toMatchObject({
        name: 'd/f4',
        expected: wrong,
        actual: chunk.chunkDigest,
      });
    }
    expect(calls.at(-1)).toBe('abort');
    expect(calls).not.toContain('end');
    // the same bytes pass when verification is off
    calls.length = 0;
    await decodeMembers(
      bodyOf(written.blob, chunk.offset, chunk.compressedEnd),
      chunk.offset,
      requests,
      () => sink,
      {
        verify: false,
      },
    );
    expect(calls.at(-1)).toBe('end');
  });

  it.each([
    ['a small member', 'd/f3', {}],
    ['a chunk of a large file', 'd/chunked', { chunkSize: 4000 }],
    ['a large streamed member', 'big', {}],
  ] as const)(
    'a corrupted byte in %s gives E_DIGEST_MISMATCH or E_CORRUPT',
    async (_label, name, options) => {
      const all = [
        ...entries,
        { type: 'reg' as const, name: 'big', content: pseudoRandom(2 * 1024 * 1024, 5) },
      ];
      const { written, layer } = await build(all, options);
      const bad = corruptByte(written.blob, payloadPosition(written, name));
      const { requests, start, end } = rangeFor(layer, () => true);
      const sinks = recordingSinks();
      const code = await codeOf(() =>
        decodeMembers(bodyOf(bad, start, end), start, requests, sinks.openSink),
      );
      expect(['E_DIGEST_MISMATCH', 'E_CORRUPT']).toContain(code);
      expect(sinks.files().has(name)).toBe(false);
    },
  );

  it('reports a body that ends early, and a member cut short, as E_CORRUPT', async () => {
    const { written, layer } = await build([
      ...entries,
      { type: 'reg', name: 'big', content: pseudoRandom(2 << 20, 3) },
    ]);
    for (const name of ['d/f3', 'big']) {
      const { requests, start, end } = rangeFor(layer, (n) => n === name);
      const sinks = recordingSinks();
      const cut = bodyOf(written.blob, start, end - 20);
      expect(await codeOf(() => decodeMembers(cut, start, requests, sinks.openSink))).toBe('E_CORRUPT');
      expect(sinks.aborted.length + sinks.ended).toBeLessThanOrEqual(1);
      expect(sinks.ended).toBe(0);
      const shortened = requests.map((r) => ({
        ...r,
        chunk: { ...r.chunk, compressedEnd: r.chunk.offset + 30 },
      }));
      const body = bodyOf(written.blob, start, start + 30);
      expect(await codeOf(() => decodeMembers(body, start, shortened, recordingSinks().openSink))).toBe(
        'E_CORRUPT',
      );
    }
  });

  it('reports a member that holds fewer bytes than the TOC says as E_CORRUPT', async () => {
    const member = gzipSync(Buffer.from('short'));
    const chunk: TocChunk = {
      offset: 0,
      innerOffset: 0,
      compressedEnd: member.length,
      chunkOffset: 0,
      chunkSize: 100,
    };
    const requests = [{ chunk, tag: {} as TocEntry }];
    expect(
      await codeOf(() =>
        decodeMembers(bodyOf(member, 0, member.length), 0, requests, recordingSinks().openSink),
      ),
    ).toBe('E_CORRUPT');
  });

  it('stops with E_ABORTED when the signal fires, aborting open sinks', async () => {
    const { written, layer } = await build(entries);
    const { requests, start, end } = rangeFor(layer, () => true);
    const controller = new AbortController();
    const sinks = recordingSinks();
    let opened = 0;
    const openSink = (req: MemberRequest<TocEntry>) => {
      if (++opened === 5) controller.abort();
      return sinks.openSink(req);
    };
    const body = bodyOf(written.blob, start, end, 64);
    expect(
      await codeOf(() => decodeMembers(body, start, requests, openSink, { signal: controller.signal })),
    ).toBe('E_ABORTED');
    expect(sinks.ended).toBeLessThan(requests.length);
  });

  it('passes a sink failure on as a StargzError and aborts the other open sinks', async () => {
    const { written, layer } = await build(entries, { shareMembersBelow: 600 });
    const { requests, start, end } = rangeFor(layer, () => true);
    const aborted: unknown[] = [];
    let count = 0;
    const openSink = (): ChunkSink => {
      const index = count++;
      return {
        write: () => {
          if (index === 2) throw new Error('disk full');
        },
        end: () => {},
        abort: (err) => void aborted.push(err),
      };
    };
    try {
      await decodeMembers(bodyOf(written.blob, start, end), start, requests, openSink);
      expect.unreachable();
    } catch (error) {
      expect(StargzError.is(error) && error.code).toBe('E_IO');
      expect(aborted.length).toBeGreaterThan(0);
      expect(aborted.every((e) => e === error)).toBe(true);
    }
  });

  it('refuses unsorted or overlapping requests (a caller bug)', async () => {
    const { written, layer } = await build(entries);
    const { requests, start, end } = rangeFor(layer, () => true);
    const reversed = [...requests].reverse();
    expect(
      await codeOf(() =>
        decodeMembers(bodyOf(written.blob, start, end), start, reversed, recordingSinks().openSink),
      ),
    ).toBe('E_INTERNAL');
    expect(
      await codeOf(() =>
        decodeMembers(bodyOf(written.blob, start, end), end, requests, recordingSinks().openSink),
      ),
    ).toBe('E_INTERNAL');
  });
});

describe('decodeMembers with fixture-like layouts', () => {
  it('decodes nothing and reads nothing for no requests', async () => {
    let pulled = 0;
    async function* body() {
      pulled++;
      yield new Uint8Array(10);
    }
    await decodeMembers(body(), 0, [], () => {
      throw new Error('no sink expected');
    });
    expect(pulled).toBe(0);
  });

  it('keeps working with random content that does not compress', async () => {
    const content = randomBytes(300_000);
    const { written, layer } = await build([{ type: 'reg', name: 'r', content }], {
      chunkSize: 65_536,
      landmark: 'none',
    });
    const { requests, start, end } = rangeFor(layer, () => true);
    expect(requests).toHaveLength(5);
    const sinks = recordingSinks();
    await decodeMembers(bodyOf(written.blob, start, end, 10_000), start, requests, sinks.openSink);
    expect(sinks.files().get('r')?.equals(content)).toBe(true);
  });
});
