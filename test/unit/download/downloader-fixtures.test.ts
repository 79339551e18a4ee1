import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catFile } from '../../../src/download/cat.js';
import { Downloader } from '../../../src/download/downloader.js';
import { bufferingDecoder, MemoryBlobSource } from './_fake-layer.js';
import { loadFixtureLayer } from './_fixture-layer.js';

let out: string;

beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'starget-fixture-'));
});

afterEach(async () => {
  await rm(out, { recursive: true, force: true });
});

const sha = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe.each(['estargz-basic', 'estargz-chunked', 'legacy-basic'])('reference layer %s', (name) => {
  it.each([false, true])('extracts every entry right (registry ignores Range: %s)', async (ignoreRange) => {
    const layer = await loadFixtureLayer(name);
    const source = new MemoryBlobSource(layer.blob, layer.digest, { ignoreRange, pieceSize: 777 });
    const downloader = new Downloader({
      sources: new Map([[layer.digest, source]]),
      decodeMembers: bufferingDecoder,
    });
    const result = await downloader.startDownload({
      entries: layer.entries,
      outDir: out,
      options: { maxGap: 0, maxRangeBytes: 70_000, concurrency: 3 },
    }).done;
    for (const entry of layer.entries) {
      const abs = join(out, entry.path);
      const stats = await lstat(abs);
      if (entry.type === 'reg') {
        expect(stats.isFile(), entry.path).toBe(true);
        expect(sha(await readFile(abs)), entry.path).toBe(entry.digest);
        expect(stats.mode & 0o7777, entry.path).toBe(entry.mode);
        if (entry.hardlinkOf) expect(stats.ino).toBe((await stat(join(out, entry.hardlinkOf))).ino);
      } else if (entry.type === 'symlink') {
        expect(await readlink(abs)).toBe(entry.linkName);
      } else if (entry.type === 'dir') {
        expect(stats.isDirectory()).toBe(true);
        expect(stats.mode & 0o7777, entry.path).toBe(entry.mode);
      }
      if (entry.modtime && entry.type !== 'symlink') {
        expect(stats.mtime.toISOString(), entry.path).toBe(new Date(entry.modtime).toISOString());
      }
    }
    expect(result.requests).toBe(source.asked.length);
    // with Range ignored the blob is read once, however many requests were already on their way
    if (ignoreRange) expect(result.bytesFetched).toBe(layer.blob.length);
  });

  it('cats each regular file', async () => {
    const layer = await loadFixtureLayer(name);
    const sources = new Map([[layer.digest, new MemoryBlobSource(layer.blob, layer.digest)]]);
    for (const entry of layer.entries.filter((e) => e.type === 'reg')) {
      const pieces: Buffer[] = [];
      const sink = new Writable({
        write(chunk, _enc, cb) {
          pieces.push(chunk);
          cb();
        },
      });
      await catFile(entry, sources, sink, { decodeMembers: bufferingDecoder });
      expect(sha(Buffer.concat(pieces)), entry.path).toBe(entry.digest);
    }
  });
});
