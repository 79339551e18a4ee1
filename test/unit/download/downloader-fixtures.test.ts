import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catFile } from '../../../src/download/cat.js';
import { Downloader } from '../../../src/download/downloader.js';
import { readLayer, TestBlobSource } from './_layer.js';

let out: string;

beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'starget-fixture-'));
});

afterEach(async () => {
  await rm(out, { recursive: true, force: true });
});

const sha = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const fixtures = join(import.meta.dirname, '../../fixtures/layers');

interface OracleEntry {
  name: string;
  type: string;
  digest: string;
  linkName: string;
  mode: number;
  modtime: string;
}

/** The reference implementation's view of a fixture layer (no chunk rows, no landmarks), by clean path. */
async function loadFixture(name: string) {
  const oracle = JSON.parse(await readFile(join(fixtures, `${name}.json`), 'utf8'));
  const blob = await readFile(join(fixtures, oracle.blob));
  const clean = (raw: string) =>
    raw
      .split('/')
      .filter((p) => p && p !== '.')
      .join('/');
  const expected = new Map<string, OracleEntry>();
  for (const e of oracle.entries as OracleEntry[]) {
    const path = clean(e.name);
    if (e.type === 'chunk' || path.endsWith('.landmark')) continue;
    expected.set(path, { ...e, linkName: e.type === 'hardlink' ? clean(e.linkName) : e.linkName });
  }
  return { blob, expected, layer: await readLayer(blob) };
}

describe.each(['estargz-basic', 'estargz-chunked', 'legacy-basic'])('reference layer %s', (name) => {
  it.each([false, true])('extracts every entry right (registry ignores Range: %s)', async (ignoreRange) => {
    const { blob, expected, layer } = await loadFixture(name);
    expect(layer.entries.map((e) => e.path).sort()).toEqual([...expected.keys()].sort());
    const source = new TestBlobSource(blob, { ignoreRange, pieceSize: 777 });
    const downloader = new Downloader({ sources: new Map([[layer.digest, source]]) });
    const result = await downloader.startDownload({
      entries: layer.entries,
      outDir: out,
      options: { maxGap: 0, maxRangeBytes: 70_000, concurrency: 3 },
    }).done;
    for (const [path, want] of expected) {
      const abs = join(out, path);
      const stats = await lstat(abs);
      if (want.type === 'reg') {
        expect(stats.isFile(), path).toBe(true);
        expect(sha(await readFile(abs)), path).toBe(want.digest);
        expect(stats.mode & 0o7777, path).toBe(want.mode);
      } else if (want.type === 'hardlink') {
        expect(stats.ino, path).toBe((await stat(join(out, want.linkName))).ino);
      } else if (want.type === 'symlink') {
        expect(await readlink(abs)).toBe(want.linkName);
      } else if (want.type === 'dir') {
        expect(stats.isDirectory()).toBe(true);
        expect(stats.mode & 0o7777, path).toBe(want.mode);
      }
      if (want.modtime && want.type !== 'symlink') {
        expect(stats.mtime.toISOString(), path).toBe(new Date(want.modtime).toISOString());
      }
    }
    expect(result.requests).toBe(source.asked.length);
    // with Range ignored the blob is read once, however many requests were already on their way
    if (ignoreRange) expect(source.bytesServed).toBeLessThanOrEqual(blob.length);
  });

  it('cats each regular file', async () => {
    const { blob, expected, layer } = await loadFixture(name);
    const sources = new Map([[layer.digest, new TestBlobSource(blob)]]);
    let checked = 0;
    for (const entry of layer.entries.filter((e) => e.type === 'reg')) {
      const pieces: Buffer[] = [];
      const sink = new Writable({
        write(chunk, _enc, cb) {
          pieces.push(chunk);
          cb();
        },
      });
      await catFile(entry, sources, sink);
      const want = expected.get(entry.path)!;
      const target = want.type === 'hardlink' ? expected.get(want.linkName)! : want;
      expect(sha(Buffer.concat(pieces)), entry.path).toBe(target.digest);
      checked++;
    }
    expect(checked).toBe(
      [...expected.values()].filter((e) => e.type === 'reg' || e.type === 'hardlink').length,
    );
  });
});
