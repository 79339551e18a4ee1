import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { catFile } from '../../../src/download/cat.js';
import type { DownloadEntry } from '../../../src/download/types.js';
import { failure } from '../../helpers/failure.js';
import { buildLayer, TestBlobSource, type TestSourceOptions } from './_layer.js';

/** A Writable with a tiny buffer that drains slowly, recording the most it ever held. */
class SlowSink extends Writable {
  readonly pieces: Buffer[] = [];
  /** the most bytes ever queued in the stream */
  peakQueued = 0;
  /** the largest single write */
  largestWrite = 0;
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void) {
    this.pieces.push(Buffer.from(chunk));
    this.largestWrite = Math.max(this.largestWrite, chunk.length);
    this.peakQueued = Math.max(this.peakQueued, this.writableLength);
    setImmediate(callback);
  }
  get bytes() {
    return Buffer.concat(this.pieces);
  }
}

async function setup(content: Buffer, sourceOptions: TestSourceOptions = {}, noChunkDigest = false) {
  const layer = await buildLayer([{ type: 'reg', name: 'f', content }], {
    chunkSize: 30_000,
    chunkDigests: !noChunkDigest,
  });
  const source = new TestBlobSource(layer.blob, sourceOptions);
  return { entry: layer.entry('f'), sources: new Map([[layer.digest, source]]), source };
}

describe('catFile', () => {
  it('streams a chunked file in order, honouring backpressure', async () => {
    const content = randomBytes(200_000);
    const { entry, sources, source } = await setup(content);
    const sink = new SlowSink();
    const result = await catFile(entry, sources, sink, { maxRangeBytes: 70_000, maxGap: 0 });
    expect(sink.bytes.equals(content)).toBe(true);
    expect(result.bytesWritten).toBe(content.length);
    expect(result.requests).toBe(source.asked.length);
    expect(source.asked.length).toBeGreaterThan(1);
    // a verified chunk (30000 bytes) goes out in one write at most: without waiting for 'drain' the queue
    // would grow to the whole file
    expect(sink.largestWrite).toBeLessThanOrEqual(30_000);
    expect(sink.peakQueued).toBeLessThan(sink.largestWrite + 1024);
  });

  it('reads the whole blob once when the registry ignores Range', async () => {
    const content = randomBytes(100_000);
    const { entry, sources, source } = await setup(content, { ignoreRange: true });
    const sink = new SlowSink();
    await catFile(entry, sources, sink, { maxRangeBytes: 1, maxGap: 0 });
    expect(sink.bytes.equals(content)).toBe(true);
    expect(source.asked).toHaveLength(1);
  });

  it('fails with E_DIGEST_MISMATCH when the file digest is wrong (legacy TOC without chunk digests)', async () => {
    const { entry, sources } = await setup(randomBytes(50_000), {}, true);
    const wrong: DownloadEntry = { ...entry, digest: `sha256:${'0'.repeat(64)}` };
    const error = await failure(catFile(wrong, sources, new SlowSink()));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    await catFile(wrong, sources, new SlowSink(), { skipVerify: true });
  });

  it('stops at a chunk that does not match its chunkDigest, before writing its bytes', async () => {
    const content = randomBytes(90_000);
    const { entry, sources } = await setup(content);
    const bad = {
      ...entry,
      chunks: entry.chunks.map((c, i) => (i === 1 ? { ...c, chunkDigest: `sha256:${'9'.repeat(64)}` } : c)),
    };
    const sink = new SlowSink();
    const error = await failure(catFile(bad, sources, sink, { maxRangeBytes: 1 }));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    expect(sink.bytes.equals(content.subarray(0, 30_000))).toBe(true);
  });

  it('fails when the output closes early', async () => {
    const { entry, sources } = await setup(randomBytes(100_000));
    const sink = new SlowSink();
    let writes = 0;
    sink.on('drain', () => {
      if (++writes === 2) sink.destroy();
    });
    const error = await failure(catFile(entry, sources, sink));
    expect(error.code).toBe('E_IO');
  });

  it('refuses what is not a regular file', async () => {
    const { entry, sources } = await setup(Buffer.from('x'));
    const error = await failure(
      catFile({ ...entry, type: 'symlink', linkName: 'x' }, sources, new SlowSink()),
    );
    expect(error.code).toBe('E_UNSUPPORTED');
  });
});
