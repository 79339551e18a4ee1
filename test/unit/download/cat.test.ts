import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { catFile } from '../../../src/download/cat.js';
import type { DownloadEntry } from '../../../src/download/types.js';
import { StargzError } from '../../../src/errors.js';
import { bufferingDecoder, buildLayer, MemoryBlobSource, type MemorySourceOptions } from './_fake-layer.js';

/** A Writable with a tiny buffer that drains slowly, recording the most it ever held. */
class SlowSink extends Writable {
  readonly pieces: Buffer[] = [];
  /** the most bytes ever queued in the stream */
  peakQueued = 0;
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void) {
    this.pieces.push(Buffer.from(chunk));
    this.peakQueued = Math.max(this.peakQueued, this.writableLength);
    setImmediate(callback);
  }
  get bytes() {
    return Buffer.concat(this.pieces);
  }
}

function setup(content: Buffer, sourceOptions: MemorySourceOptions = {}, noChunkDigest = false) {
  const layer = buildLayer([{ path: 'f', content, chunkSize: 30_000, innerJunk: 3, noChunkDigest }]);
  const source = new MemoryBlobSource(layer.blob, layer.digest, sourceOptions);
  return { entry: layer.files.get('f')!, sources: new Map([[layer.digest, source]]), source };
}

async function failure(promise: Promise<unknown>): Promise<StargzError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(StargzError.is(error), `expected a StargzError, got ${String(error)}`).toBe(true);
  return error as StargzError;
}

describe('catFile', () => {
  it('streams a chunked file in order, honouring backpressure', async () => {
    const content = randomBytes(200_000);
    const { entry, sources, source } = setup(content);
    const sink = new SlowSink();
    const result = await catFile(entry, sources, sink, {
      decodeMembers: bufferingDecoder,
      maxRangeBytes: 70_000,
      maxGap: 0,
    });
    expect(sink.bytes.equals(content)).toBe(true);
    expect(result.bytesWritten).toBe(content.length);
    expect(result.requests).toBe(source.asked.length);
    expect(source.asked.length).toBeGreaterThan(1);
    // the decoder hands over 15000-byte pieces: without waiting for 'drain' the queue would grow to the file
    expect(sink.peakQueued).toBeLessThanOrEqual(15_000);
  });

  it('reads the whole blob once when the registry ignores Range', async () => {
    const content = randomBytes(100_000);
    const { entry, sources, source } = setup(content, { ignoreRange: true });
    const sink = new SlowSink();
    await catFile(entry, sources, sink, { decodeMembers: bufferingDecoder, maxRangeBytes: 1, maxGap: 0 });
    expect(sink.bytes.equals(content)).toBe(true);
    expect(source.asked).toHaveLength(1);
  });

  it('fails with E_DIGEST_MISMATCH when the file digest is wrong (legacy TOC without chunk digests)', async () => {
    const { entry, sources } = setup(randomBytes(50_000), {}, true);
    const wrong: DownloadEntry = { ...entry, digest: `sha256:${'0'.repeat(64)}` };
    const error = await failure(catFile(wrong, sources, new SlowSink(), { decodeMembers: bufferingDecoder }));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    await catFile(wrong, sources, new SlowSink(), { decodeMembers: bufferingDecoder, skipVerify: true });
  });

  it('stops at a chunk that does not match its chunkDigest, before writing its bytes', async () => {
    const content = randomBytes(90_000);
    const { entry, sources } = setup(content);
    const bad = {
      ...entry,
      chunks: entry.chunks.map((c, i) => (i === 1 ? { ...c, chunkDigest: `sha256:${'9'.repeat(64)}` } : c)),
    };
    const sink = new SlowSink();
    const error = await failure(
      catFile(bad, sources, sink, { decodeMembers: bufferingDecoder, maxRangeBytes: 1 }),
    );
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    expect(sink.bytes.equals(content.subarray(0, 30_000))).toBe(true);
  });

  it('fails when the output closes early', async () => {
    const { entry, sources } = setup(randomBytes(100_000));
    const sink = new SlowSink();
    let writes = 0;
    sink.on('drain', () => {
      if (++writes === 2) sink.destroy();
    });
    const error = await failure(catFile(entry, sources, sink, { decodeMembers: bufferingDecoder }));
    expect(error.code).toBe('E_IO');
  });

  it('refuses what is not a regular file', async () => {
    const { entry, sources } = setup(Buffer.from('x'));
    const error = await failure(
      catFile({ ...entry, type: 'symlink', linkName: 'x' }, sources, new SlowSink(), {
        decodeMembers: bufferingDecoder,
      }),
    );
    expect(error.code).toBe('E_UNSUPPORTED');
  });
});
