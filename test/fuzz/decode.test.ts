import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChunkSink, decodeMembers, type MemberRequest } from '../../src/estargz/decode.js';
import { openLayer } from '../../src/estargz/layer.js';
import type { TocChunk, TocEntry } from '../../src/estargz/types.js';
import { writeEstargz } from '../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../helpers/memory-blob-source.js';
import { edits, fuzzParams, mutate, okOrStargzErrorAsync } from './_fuzz.js';

const contents = new Map<string, Buffer>([
  ['small/a', Buffer.from('alpha\n')],
  ['small/b', Buffer.from('bravo bravo\n')],
  ['text', Buffer.from('the quick brown fox '.repeat(900))],
  ['random', randomBytes(20_000)],
]);
const written = writeEstargz(
  [
    { type: 'dir', name: 'small' },
    ...[...contents].map(([name, content]) => ({ type: 'reg' as const, name, content })),
    { type: 'symlink', name: 'link', linkName: 'text' },
  ],
  { chunkSize: 6000, shareMembersBelow: 64 },
);
const layer = await openLayer(new MemoryBlobSource(written.blob));
const files = layer.toc.entries.filter(
  (e) => e.type === 'reg' && e.chunks.length > 0 && contents.has(e.name),
);

function requestsOf(entries: readonly TocEntry[], chunkEdit?: (chunk: TocChunk) => TocChunk) {
  return entries
    .flatMap((entry) =>
      entry.chunks.map((chunk) => ({
        chunk: chunkEdit ? chunkEdit(chunk) : chunk,
        tag: entry.name,
        name: entry.name,
      })),
    )
    .sort((a, b) => a.chunk.offset - b.chunk.offset || a.chunk.innerOffset - b.chunk.innerOffset);
}

/** Decodes the requests from `blob` (as ranges or one whole pass); returns the bytes delivered per file. */
async function decode(
  blob: Uint8Array,
  requests: MemberRequest<string>[],
  whole: boolean,
  pieceSize: number,
): Promise<Map<string, Buffer>> {
  const got = new Map<string, Buffer[]>();
  const openSink = (request: MemberRequest<string>): ChunkSink => ({
    write(data) {
      const list = got.get(request.tag) ?? [];
      list.push(Buffer.from(data));
      got.set(request.tag, list);
    },
    end() {},
  });
  async function* pieces(from: number, to: number) {
    for (let at = from; at < to; at += pieceSize) yield blob.subarray(at, Math.min(to, at + pieceSize));
  }
  if (whole) {
    await decodeMembers(pieces(0, blob.length), 0, requests, openSink);
  } else {
    for (const request of requests) {
      await decodeMembers(
        pieces(request.chunk.offset, request.chunk.compressedEnd),
        request.chunk.offset,
        [request],
        openSink,
      );
    }
  }
  return new Map([...got].map(([name, list]) => [name, Buffer.concat(list)]));
}

describe('fuzz: decodeMembers on mutated blobs', () => {
  it('a corrupted blob yields the right bytes (digests verified) or a StargzError, never wrong bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        edits(3),
        fc.boolean(),
        fc.integer({ min: 1, max: 5000 }),
        async (changes, whole, pieceSize) => {
          const blob = mutate(written.blob.subarray(0, written.tocOffset), changes);
          const got = await okOrStargzErrorAsync(() => decode(blob, requestsOf(files), whole, pieceSize));
          if (got)
            for (const [name, bytes] of got) expect(bytes.equals(contents.get(name)!), name).toBe(true);
        },
      ),
      fuzzParams(600, 20),
    );
  });

  it('chunk coordinates out of line with the data: a StargzError or bytes matching their digest', async () => {
    const coordinate = fc.record({
      innerOffset: fc.option(fc.nat({ max: 70_000 }), { nil: undefined }),
      chunkSize: fc.option(fc.integer({ min: 1, max: 2 ** 31 }), { nil: undefined }),
      compressedEnd: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(coordinate, fc.boolean(), async (edit, whole) => {
        const requests = requestsOf(files, (chunk) => ({
          ...chunk,
          ...(edit.innerOffset === undefined ? {} : { innerOffset: edit.innerOffset }),
          ...(edit.chunkSize === undefined ? {} : { chunkSize: edit.chunkSize }),
          ...(edit.compressedEnd === undefined
            ? {}
            : { compressedEnd: Math.max(chunk.offset + 1, chunk.compressedEnd - edit.compressedEnd) }),
        }));
        const got = await okOrStargzErrorAsync(() => decode(written.blob, requests, whole, 4096));
        if (got) for (const [name, bytes] of got) expect(bytes.equals(contents.get(name)!), name).toBe(true);
      }),
      fuzzParams(300, 20),
    );
  });
});

describe('fuzz: openLayer on mutated blobs', () => {
  it('footer, TOC and tail bytes corrupted: a LayerToc or a StargzError', async () => {
    const tailStart = written.tocOffset - 200;
    await fc.assert(
      fc.asyncProperty(edits(4), fc.integer({ min: 51, max: 4096 }), async (changes, tailSize) => {
        const tail = mutate(written.blob.subarray(tailStart), changes);
        const blob = Buffer.concat([written.blob.subarray(0, tailStart), tail]);
        await okOrStargzErrorAsync(() => openLayer(new MemoryBlobSource(blob), { tailSize }));
      }),
      fuzzParams(1500, 10),
    );
  });

  it('a descriptor size that lies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: written.blob.length * 2 }), async (size) => {
        await okOrStargzErrorAsync(() => openLayer(new MemoryBlobSource(written.blob, { size })));
      }),
      fuzzParams(500, 10),
    );
  });
});
