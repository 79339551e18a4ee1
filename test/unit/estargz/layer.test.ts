import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { openLayer, parseLayerTail } from '../../../src/estargz/layer.js';
import {
  corruptByte,
  footerBytes,
  payloadPosition,
  type WrittenLayer,
  writeEstargz,
} from '../../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';
import { tarOf } from '../../helpers/tar.js';
import { codeOf, decodeWholeBlob, readFixture } from './_support.js';

function sampleLayer(): WrittenLayer {
  return writeEstargz([
    { type: 'dir', name: 'etc' },
    { type: 'reg', name: 'etc/hostname', content: Buffer.from('box\n') },
    { type: 'reg', name: 'data', content: randomBytes(5000) },
  ]);
}

/** `layer`'s data part with another TOC member and a footer pointing at it. */
function withTocMember(layer: WrittenLayer, member: Buffer): Buffer {
  return Buffer.concat([
    layer.blob.subarray(0, layer.tocOffset),
    member,
    footerBytes(layer.tocOffset, 'estargz'),
  ]);
}

const tocJson = (
  layer: WrittenLayer,
  edit: (toc: { version: number; entries: Record<string, unknown>[] }) => void,
) => {
  const toc = JSON.parse(layer.tocJson);
  edit(toc);
  return gzipSync(tarOf('stargz.index.json', Buffer.from(JSON.stringify(toc))));
};

describe('openLayer', () => {
  it('reads the footer and TOC with one tail read', async () => {
    const written = sampleLayer();
    const source = new MemoryBlobSource(written.blob);
    const layer = await openLayer(source, { expectedTocDigest: written.tocDigest });
    expect(source.reads).toEqual([{ start: 0, end: written.blob.length }]);
    expect(layer.tocDigest).toBe(written.tocDigest);
    expect(layer.footer).toEqual({ kind: 'estargz', size: 51, tocOffset: written.tocOffset });
    expect(layer.toc.entries.map((e) => e.name)).toEqual([
      '.no.prefetch.landmark',
      'etc',
      'etc/hostname',
      'data',
    ]);
  });

  it('reads only the tail, then the missing TOC start when the TOC is larger than the tail', async () => {
    const entries = Array.from({ length: 400 }, (_, i) => ({
      type: 'reg' as const,
      name: `f${i}`,
      content: randomBytes(64),
    }));
    const written = writeEstargz(entries);
    const size = written.blob.length;
    const small = new MemoryBlobSource(written.blob);
    const layer = await openLayer(small, { tailSize: 300 });
    expect(small.reads).toEqual([
      { start: size - 300, end: size },
      { start: written.tocOffset, end: size - 300 },
    ]);
    expect(layer.toc.entries).toHaveLength(401);
    const big = new MemoryBlobSource(written.blob);
    await openLayer(big, { tailSize: size - written.tocOffset + 51 });
    expect(big.reads).toHaveLength(1);
  });

  it('streams through a whole-blob answer keeping only the tail', async () => {
    const written = writeEstargz([{ type: 'reg', name: 'big', content: randomBytes(3 * 1024 * 1024) }]);
    const source = new MemoryBlobSource(written.blob, { ignoreRange: true, pieceSize: 1000 });
    const layer = await openLayer(source, { tailSize: 64 * 1024 });
    expect(layer.tocDigest).toBe(written.tocDigest);
    expect(source.reads).toHaveLength(1);
    // a second whole read is needed only when the TOC starts before the tail
    const tiny = new MemoryBlobSource(written.blob, { ignoreRange: true, pieceSize: 100 });
    await openLayer(tiny, { tailSize: 200 });
    expect(tiny.reads).toHaveLength(2);
    // the second pass stops at the tail start instead of reading the blob to its end again
    const size = written.blob.length;
    expect(tiny.bytesServed).toBeLessThanOrEqual(2 * size - 200 + 100);
  });

  it('rejects a registry whose blob size differs from the descriptor', async () => {
    const written = sampleLayer();
    const padded = Buffer.concat([written.blob, Buffer.alloc(10)]);
    const source = new MemoryBlobSource(padded, {
      ignoreRange: true,
      pieceSize: 100,
      size: written.blob.length,
    });
    expect(await codeOf(() => openLayer(source))).toBe('E_PROTOCOL');
  });

  it('checks the TOC digest against the annotation and names the layer', async () => {
    const written = sampleLayer();
    const source = new MemoryBlobSource(written.blob);
    const wrong = `sha256:${'0'.repeat(64)}`;
    try {
      await openLayer(source, { expectedTocDigest: wrong });
      expect.unreachable();
    } catch (error) {
      expect(StargzError.is(error) && error.code).toBe('E_DIGEST_MISMATCH');
      expect((error as Error).message).toContain(source.digest);
      expect((error as StargzError).details).toEqual({
        layer: source.digest,
        expected: wrong,
        actual: written.tocDigest,
      });
    }
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const source = new MemoryBlobSource(sampleLayer().blob);
    expect(await codeOf(() => openLayer(source, { signal: controller.signal }))).toBe('E_ABORTED');
  });

  it('names the layer in parse errors', async () => {
    const source = new MemoryBlobSource(readFixture('layers/plain-gzip.blob'));
    try {
      await openLayer(source);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain(source.digest);
      expect((error as StargzError).details['layer']).toBe(source.digest);
    }
  });
});

describe('parseLayerTail', () => {
  it('asks for the bytes from the TOC start when they are missing, and parses once given', () => {
    const written = sampleLayer();
    const size = written.blob.length;
    const tailStart = size - 60;
    expect(parseLayerTail(written.blob.subarray(tailStart), tailStart, size)).toEqual({
      kind: 'need',
      start: written.tocOffset,
    });
    const result = parseLayerTail(written.blob.subarray(written.tocOffset), written.tocOffset, size);
    expect(result.kind === 'toc' && result.layer.tocDigest).toBe(written.tocDigest);
  });
});

describe('bad input: each gives its own code, never a crash', () => {
  const written = sampleLayer();
  const table: Array<[string, () => Buffer, string]> = [
    [
      'a truncated blob (footer cut)',
      () => written.blob.subarray(0, written.blob.length - 10),
      'E_NOT_ESTARGZ',
    ],
    [
      'a blob cut inside the TOC',
      () =>
        Buffer.concat([
          written.blob.subarray(0, written.tocOffset + 30),
          footerBytes(written.tocOffset, 'estargz'),
        ]),
      'E_TOC_INVALID',
    ],
    ['a footer with wrong magic', () => corruptByte(written.blob, written.blob.length - 51), 'E_NOT_ESTARGZ'],
    ['a footer with wrong XLEN', () => corruptByte(written.blob, written.blob.length - 41), 'E_NOT_ESTARGZ'],
    [
      'a footer with a non-hex offset',
      () => corruptByte(written.blob, written.blob.length - 30),
      'E_TOC_INVALID',
    ],
    [
      'a TOC offset past the end',
      () => Buffer.concat([written.blob.subarray(0, -51), footerBytes(written.blob.length + 5, 'estargz')]),
      'E_TOC_INVALID',
    ],
    [
      'a TOC member that is not gzip',
      () => withTocMember(written, Buffer.from('{"version":1,"entries":[]}')),
      'E_TOC_INVALID',
    ],
    [
      'a TOC tar without stargz.index.json',
      () => withTocMember(written, gzipSync(tarOf('other.json', Buffer.from(written.tocJson)))),
      'E_TOC_INVALID',
    ],
    [
      'a TOC that is not JSON',
      () => withTocMember(written, gzipSync(tarOf('stargz.index.json', Buffer.from('{"version":1,')))),
      'E_TOC_INVALID',
    ],
    [
      'a TOC of version 2',
      () =>
        withTocMember(
          written,
          tocJson(written, (t) => {
            t.version = 2;
          }),
        ),
      'E_UNSUPPORTED',
    ],
    [
      'a chunk entry with no file before it',
      () =>
        withTocMember(
          written,
          tocJson(written, (t) => {
            t.entries.unshift({ name: 'x', type: 'chunk', offset: 10, chunkOffset: 0 });
          }),
        ),
      'E_TOC_INVALID',
    ],
    [
      'a negative size',
      () =>
        withTocMember(
          written,
          tocJson(written, (t) => {
            (t.entries[2] as Record<string, unknown>)['size'] = -4;
          }),
        ),
      'E_TOC_INVALID',
    ],
    [
      'a payload offset past the TOC',
      () =>
        withTocMember(
          written,
          tocJson(written, (t) => {
            (t.entries[2] as Record<string, unknown>)['offset'] = written.tocOffset + 1;
          }),
        ),
      'E_TOC_INVALID',
    ],
  ];
  it.each(table)('%s → %s', async (_label, make, code) => {
    expect(await codeOf(() => openLayer(new MemoryBlobSource(make())))).toBe(code);
  });

  it('a corrupted payload byte opens fine and fails when the file is decoded', async () => {
    const bad = corruptByte(written.blob, payloadPosition(written, 'data'));
    const layer = await openLayer(new MemoryBlobSource(bad), { expectedTocDigest: written.tocDigest });
    expect(['E_DIGEST_MISMATCH', 'E_CORRUPT']).toContain(await codeOf(() => decodeWholeBlob(bad, layer)));
  });
});

describe('hardening: TOC sizes', () => {
  /** A blob of `size` bytes that only has a footer pointing at `tocOffset`; records the bytes asked for. */
  function footerOnly(size: number, tocOffset: number) {
    const footer = footerBytes(tocOffset, 'estargz');
    const asked: number[] = [];
    const source = {
      digest: `sha256:${'a'.repeat(64)}`,
      size,
      async readRange(start: number, end: number) {
        asked.push(end - start);
        const from = start;
        return {
          kind: 'partial' as const,
          start,
          end,
          body: (async function* () {
            for (let at = from; at < end; at += 1 << 20) {
              const to = Math.min(end, at + (1 << 20));
              const piece = Buffer.alloc(to - at);
              const overlap = Math.max(at, size - 51);
              if (overlap < to) footer.copy(piece, overlap - at, overlap - (size - 51), to - (size - 51));
              yield piece;
            }
          })(),
        };
      },
    };
    return { source, asked };
  }

  it('refuses a footer that puts a TOC of gigabytes before the tail, without buffering it', async () => {
    const { source, asked } = footerOnly(6 * 1024 ** 3, 0);
    expect(await codeOf(() => openLayer(source))).toBe('E_TOC_INVALID');
    expect(asked).toEqual([512 * 1024]);
  });

  it('opens a layer of 60 000 entries whose TOC is larger than the default tail (second read)', async () => {
    const entries = Array.from({ length: 60_000 }, (_, i) => ({
      type: 'reg' as const,
      name: `d${i % 97}/./file-${i}.txt`,
      content: Buffer.from(`${i}`),
    }));
    const written = writeEstargz(entries, { level: 1 });
    const size = written.blob.length;
    expect(size - written.tocOffset).toBeGreaterThan(512 * 1024);
    const source = new MemoryBlobSource(written.blob);
    const layer = await openLayer(source, { expectedTocDigest: written.tocDigest });
    expect(source.reads).toEqual([
      { start: size - 512 * 1024, end: size },
      { start: written.tocOffset, end: size - 512 * 1024 },
    ]);
    expect(layer.toc.entries).toHaveLength(60_001);
    expect(layer.toc.entries[60_000]?.name).toBe('d53/file-59999.txt');
  });
});

describe('hardening: layers that are not gzip', () => {
  const tar = tarOf('etc/hostname', Buffer.from('box\n'));
  it.each([
    ['application/vnd.oci.image.layer.v1.tar+zstd', randomBytes(4000), /zstd/],
    ['application/vnd.oci.image.layer.v1.tar', tar, /uncompressed/],
    ['application/vnd.docker.image.rootfs.diff.tar', tar, /uncompressed/],
  ])('%s → E_NOT_ESTARGZ naming the layer and its media type', async (mediaType, blob, says) => {
    const source = Object.assign(new MemoryBlobSource(blob), { mediaType });
    try {
      await openLayer(source);
      expect.unreachable('openLayer should fail');
    } catch (error) {
      expect(StargzError.is(error) && error.code).toBe('E_NOT_ESTARGZ');
      const message = (error as Error).message;
      expect(message).toContain(source.digest);
      expect(message).toContain(mediaType);
      expect(message).toMatch(says);
    }
  });
});
