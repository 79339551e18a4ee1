import { randomBytes } from 'node:crypto';
import { rmSync, symlinkSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Downloader } from '../../../src/download/downloader.js';
import type { DownloadOptions } from '../../../src/download/job.js';
import { RESUME_DIR } from '../../../src/download/resume.js';
import { TEMP_PREFIX } from '../../../src/download/safe-writer.js';
import type { DownloadEntry, DownloadEvent } from '../../../src/download/types.js';
import { corruptByte, payloadPosition } from '../../helpers/estargz-writer.js';
import { failure } from '../../helpers/failure.js';
import { buildLayer, sourcesOf, TestBlobSource } from './_layer.js';

let base: string;
let out: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-download-'));
  out = join(base, 'out');
  outside = join(base, 'outside');
  await mkdir(outside);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function meta(path: string, type: DownloadEntry['type'], extra: Partial<DownloadEntry> = {}): DownloadEntry {
  return {
    path,
    type,
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    modtime: '2020-01-01T00:00:00Z',
    chunks: [],
    layerDigest: 'none',
    ...extra,
  };
}

async function download(
  entries: DownloadEntry[],
  sources: Map<string, TestBlobSource>,
  options: DownloadOptions = {},
  outputPathOf?: (entry: DownloadEntry) => string,
) {
  const events: DownloadEvent[] = [];
  const downloader = new Downloader({ sources });
  const handle = downloader.startDownload({
    entries,
    outDir: out,
    outputPathOf,
    options: { onEvent: (event) => events.push(event), ...options },
  });
  const result = await handle.done;
  return { result, events };
}

async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(current: string, prefix: string) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      found.push(prefix + entry.name);
      if (entry.isDirectory()) await walk(join(current, entry.name), `${prefix}${entry.name}/`);
    }
  }
  await walk(dir, '');
  return found.sort();
}

const files = (contents: Buffer[], prefix = 'f') =>
  contents.map((content, i) => ({ type: 'reg' as const, name: `${prefix}${i}`, content }));

describe('Downloader', () => {
  it('writes a tree: dirs, files, a chunked file split across ranges, an empty file, links', async () => {
    const big = randomBytes(300_000);
    const layer = await buildLayer(
      [
        { type: 'dir', name: 'etc', mode: 0o750, mtime: '2021-06-01T12:00:00Z' },
        { type: 'dir', name: 'bin' },
        { type: 'reg', name: 'etc/hostname', content: Buffer.from('box\n') },
        { type: 'reg', name: 'bin/tool', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
        { type: 'reg', name: 'big/random', content: big },
        { type: 'reg', name: 'etc/empty', mode: 0o600 },
        { type: 'symlink', name: 'bin/sh', linkName: 'tool' },
        { type: 'symlink', name: 'links/abs', linkName: '/etc/passwd' },
        { type: 'hardlink', name: 'bin/tool-hard', linkName: 'bin/tool' },
      ],
      { chunkSize: 65_536, shareMembersBelow: 1000 },
    );
    // the two small files share one gzip member: bin/tool starts inside it
    expect(layer.entry('bin/tool').chunks[0]!.innerOffset).toBeGreaterThan(0);
    expect(layer.entry('big/random').chunks).toHaveLength(5);
    const sources = sourcesOf([layer]);
    const { result, events } = await download(layer.entries, sources, {
      maxRangeBytes: 100_000,
      maxGap: 0,
      concurrency: 3,
    });

    expect(await readFile(join(out, 'etc/hostname'), 'utf8')).toBe('box\n');
    expect((await readFile(join(out, 'big/random'))).equals(big)).toBe(true);
    expect(await readFile(join(out, 'etc/empty'), 'utf8')).toBe('');
    expect(await readlink(join(out, 'bin/sh'))).toBe('tool');
    expect(await readlink(join(out, 'links/abs'))).toBe('/etc/passwd');
    const [tool, hard] = await Promise.all([stat(join(out, 'bin/tool')), stat(join(out, 'bin/tool-hard'))]);
    expect(hard.ino).toBe(tool.ino);
    expect(await readFile(join(out, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\n');
    expect(tool.mode & 0o7777).toBe(0o755);
    expect((await stat(join(out, 'etc/empty'))).mode & 0o7777).toBe(0o600);
    const etc = await stat(join(out, 'etc'));
    expect(etc.mode & 0o7777).toBe(0o750);
    expect(etc.mtime.toISOString()).toBe('2021-06-01T12:00:00.000Z');
    expect(tool.mtime.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect((await lstat(join(out, 'bin/sh'))).mtime.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect((await listTree(out)).filter((p) => p.includes(TEMP_PREFIX))).toEqual([]);

    const asked = sources.get(layer.digest)!.asked;
    expect(result.requests).toBe(asked.length);
    expect(asked.length).toBeGreaterThan(3); // 5 chunks of the big file cannot fit in 100 kB ranges together
    expect(result).toMatchObject({ files: 4, dirs: 2, symlinks: 2, hardlinks: 1 });
    expect(result.bytesWritten).toBe(big.length + 4 + 10);
    expect(result.bytesFetched).toBe(asked.reduce((sum, [s, e]) => sum + e - s, 0));
    const last = events.filter((e) => e.type === 'progress').at(-1);
    expect(last).toMatchObject({ filesDone: 7, filesTotal: 7, bytesWritten: result.bytesWritten });
  });

  it('coalesces a directory of small files into one request', async () => {
    const contents = Array.from({ length: 60 }, (_, i) => randomBytes(100 + i));
    const layer = await buildLayer(files(contents, 'dir/f'));
    const sources = sourcesOf([layer]);
    await download(layer.entries, sources);
    expect(sources.get(layer.digest)!.asked).toHaveLength(1);
    for (const [i, content] of contents.entries())
      expect((await readFile(join(out, `dir/f${i}`))).equals(content)).toBe(true);
  });

  it('reads each layer from its own source', async () => {
    const one = await buildLayer([{ type: 'reg', name: 'a', content: Buffer.from('from one') }]);
    const two = await buildLayer([{ type: 'reg', name: 'b', content: Buffer.from('from two') }]);
    await download([...one.entries, ...two.entries], sourcesOf([one, two]));
    expect(await readFile(join(out, 'a'), 'utf8')).toBe('from one');
    expect(await readFile(join(out, 'b'), 'utf8')).toBe('from two');
  });

  it('falls back to one pass over the whole blob when the registry ignores Range', async () => {
    const big = randomBytes(200_000);
    const layer = await buildLayer(
      [
        { type: 'reg', name: 'x', content: Buffer.from('x') },
        { type: 'reg', name: 'big', content: big },
        { type: 'reg', name: 'y', content: Buffer.from('y') },
      ],
      { chunkSize: 50_000 },
    );
    const sources = sourcesOf([layer], { ignoreRange: true });
    const { result, events } = await download(layer.entries, sources, {
      maxRangeBytes: 60_000,
      maxGap: 0,
      concurrency: 1,
    });
    expect(sources.get(layer.digest)!.asked).toHaveLength(1);
    expect(events.filter((e) => e.type === 'fallback-whole-blob')).toEqual([
      { type: 'fallback-whole-blob', layerDigest: layer.digest },
    ]);
    expect(result.wholeBlobLayers).toEqual([layer.digest]);
    expect((await readFile(join(out, 'big'))).equals(big)).toBe(true);
    expect(await readFile(join(out, 'x'), 'utf8')).toBe('x');
    expect(await readFile(join(out, 'y'), 'utf8')).toBe('y');
  });

  it.each([
    ['answered at once', false],
    ['still waiting (cancelled)', true],
  ])('reads the blob once when the other requests of the layer are %s', async (_name, slowOthers) => {
    const contents = Array.from({ length: 8 }, () => randomBytes(30_000));
    const layer = await buildLayer(files(contents));
    const first = layer.entry('f0').chunks[0]!.offset;
    const lastNeeded = layer.entry('f7').chunks[0]!.compressedEnd;
    const delay = async (start: number) => {
      if (slowOthers && start !== first) await new Promise((r) => setTimeout(r, 30));
    };
    const sources = sourcesOf([layer], { ignoreRange: true, delay });
    const { result } = await download(layer.entries, sources, {
      maxRangeBytes: 1,
      maxGap: 0,
      concurrency: 4,
    });
    const source = sources.get(layer.digest)!;
    expect(source.asked.length).toBeGreaterThan(1);
    // one pass: up to the last needed member at least, never more than the blob once (a second pass
    // over 240 kB of random files would double it)
    expect(result.bytesFetched).toBeGreaterThanOrEqual(lastNeeded);
    expect(result.bytesFetched).toBeLessThanOrEqual(layer.blob.length);
    expect(source.bytesServed).toBeLessThanOrEqual(layer.blob.length);
    for (const [i, content] of contents.entries())
      expect((await readFile(join(out, `f${i}`))).equals(content)).toBe(true);
  });

  it('assembles chunks arriving out of order and checks the whole-file digest', async () => {
    const content = randomBytes(160_000);
    const layer = await buildLayer([{ type: 'reg', name: 'f', content }], {
      chunkSize: 40_000,
      chunkDigests: false,
    });
    const f = layer.entry('f');
    expect(f.chunks.map((c) => c.chunkDigest)).toEqual([undefined, undefined, undefined, undefined]);
    const firstStart = f.chunks[0]!.offset;
    const delay = (start: number) => new Promise<void>((r) => setTimeout(r, start === firstStart ? 50 : 0));
    const options = { maxRangeBytes: 1, maxGap: 0, concurrency: 4 };
    await download([f], sourcesOf([layer], { delay }), options);
    expect((await readFile(join(out, 'f'))).equals(content)).toBe(true);

    await rm(out, { recursive: true });
    const wrong = { ...f, digest: `sha256:${'0'.repeat(64)}` };
    const error = await failure(download([wrong], sourcesOf([layer], { delay }), options));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    expect(await listTree(out)).toEqual([]);
  });

  it('refuses a file whose chunk does not match its chunkDigest and leaves no file', async () => {
    const layer = await buildLayer([
      { type: 'reg', name: 'good', content: Buffer.from('good') },
      { type: 'reg', name: 'bad', content: Buffer.from('the real bytes') },
    ]);
    const bad = layer.entry('bad');
    const tampered = { ...bad, chunks: [{ ...bad.chunks[0]!, chunkDigest: `sha256:${'1'.repeat(64)}` }] };
    const error = await failure(download([layer.entry('good'), tampered], sourcesOf([layer]), { maxGap: 0 }));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    const tree = await listTree(out);
    expect(tree.filter((p) => p !== 'good' && !p.startsWith(RESUME_DIR))).toEqual([]);
    // no wrong byte under a final name; what was verified stays for a rerun
    expect(tree).toContain(`${RESUME_DIR}/journal`);
  });

  it('skips digest checks with skipVerify', async () => {
    const layer = await buildLayer([{ type: 'reg', name: 'f', content: Buffer.from('bytes') }]);
    const f = layer.entry('f');
    const wrong = {
      ...f,
      digest: `sha256:${'2'.repeat(64)}`,
      chunks: [{ ...f.chunks[0]!, chunkDigest: `sha256:${'3'.repeat(64)}` }],
    };
    await download([wrong], sourcesOf([layer]), { skipVerify: true });
    expect(await readFile(join(out, 'f'), 'utf8')).toBe('bytes');
  });

  it('reports a corrupted blob and keeps the previous file under the final name', async () => {
    const layer = await buildLayer([{ type: 'reg', name: 'f', content: randomBytes(5000) }]);
    const blob = corruptByte(layer.blob, payloadPosition(layer.written, 'f'));
    await mkdir(out);
    await writeFile(join(out, 'f'), 'previous');
    const sources = new Map([[layer.digest, new TestBlobSource(blob, { digest: layer.digest })]]);
    const error = await failure(download([layer.entry('f')], sources));
    expect(['E_CORRUPT', 'E_DIGEST_MISMATCH']).toContain(error.code);
    expect(await readFile(join(out, 'f'), 'utf8')).toBe('previous');
    expect(await listTree(out)).toEqual(['f']);
  });

  it('refuses entries under a symlink of the same job, writing nothing outside', async () => {
    const layer = await buildLayer([
      { type: 'symlink', name: 'evil', linkName: outside },
      { type: 'reg', name: 'evil/pwned', content: Buffer.from('pwned') },
    ]);
    const error = await failure(download(layer.entries, sourcesOf([layer])));
    expect(error.code).toBe('E_UNSAFE_PATH');
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses to write through a symlink that was in the output directory before', async () => {
    await mkdir(out);
    await symlink(outside, join(out, 'evil'));
    const layer = await buildLayer([{ type: 'reg', name: 'evil/pwned', content: Buffer.from('pwned') }]);
    const error = await failure(download(layer.entries, sourcesOf([layer])));
    expect(error.code).toBe('E_UNSAFE_PATH');
    expect(await readdir(outside)).toEqual([]);
    expect(await listTree(out)).toEqual(['evil']);
  });

  it.each(['../escape', '/abs', 'a/../../b'])(
    'refuses the unsafe name %j before writing anything',
    async (bad) => {
      const layer = await buildLayer([
        { type: 'reg', name: 'good', content: Buffer.from('good') },
        { type: 'reg', name: 'bad', content: Buffer.from('bad') },
      ]);
      const entries = [layer.entry('good'), { ...layer.entry('bad'), path: bad }];
      const sources = sourcesOf([layer]);
      const error = await failure(download(entries, sources));
      expect(error.code).toBe('E_UNSAFE_PATH');
      expect(await readdir(base)).toEqual(['outside']);
      expect(sources.get(layer.digest)!.asked).toEqual([]);
    },
  );

  it('places entries where outputPathOf says', async () => {
    const layer = await buildLayer([{ type: 'reg', name: 'usr/bin/tool', content: Buffer.from('t') }]);
    await download(layer.entries, sourcesOf([layer]), {}, () => 'renamed');
    expect(await listTree(out)).toEqual(['renamed']);
    expect(await readFile(join(out, 'renamed'), 'utf8')).toBe('t');
  });

  it('refuses two entries for one output path', async () => {
    const error = await failure(
      download([meta('a', 'dir'), meta('a', 'symlink', { linkName: 'x' })], new Map()),
    );
    expect(error.code).toBe('E_USAGE');
  });

  it('cancels: rejects with E_ABORTED and leaves no temporary or partial file', async () => {
    const contents = Array.from({ length: 6 }, () => randomBytes(20_000));
    const layer = await buildLayer(files(contents));
    const controller = new AbortController();
    let calls = 0;
    const delay = async () => {
      calls++;
      if (calls === 3) controller.abort();
      await new Promise((r) => setTimeout(r, 5));
    };
    const error = await failure(
      download(layer.entries, sourcesOf([layer], { delay }), {
        maxRangeBytes: 1,
        maxGap: 0,
        concurrency: 2,
        signal: controller.signal,
      }),
    );
    expect(error.code).toBe('E_ABORTED');
    const left = (await listTree(out)).filter((p) => !p.startsWith(RESUME_DIR));
    expect(left.filter((p) => p.includes(TEMP_PREFIX))).toEqual([]);
    for (const name of left) {
      const i = Number(name.slice(1));
      expect((await readFile(join(out, name))).equals(contents[i]!)).toBe(true);
    }
    expect(left.length).toBeLessThan(6);
  });
});

/** Every name under `dir` (at any depth, the resume directory included) that is a temporary file. */
async function temporaries(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => name.includes(TEMP_PREFIX));
}

describe.each([
  ['blocking writes', true],
  ['thread-pool writes', false],
])('Downloader with many small files (%s)', (_mode, blockingWrites) => {
  const tree = (dirs: number, perDir: number) =>
    Array.from({ length: dirs * perDir }, (_, i) => ({
      type: 'reg' as const,
      name: `d${i % dirs}/f${i}`,
      content: randomBytes(50 + (i % 700)),
      mode: i % 3 === 0 ? 0o755 : 0o640,
      mtime: `2022-0${1 + (i % 9)}-01T00:00:00Z`,
    }));

  it('writes every file whole, with its mode and mtime, and leaves no temporary file', async () => {
    const small = tree(12, 25);
    const big = randomBytes(200_000);
    const layer = await buildLayer(
      [
        ...small,
        { type: 'reg', name: 'd0/empty', mode: 0o600 },
        { type: 'reg', name: 'd1/big', content: big },
        { type: 'hardlink', name: 'd2/linked', linkName: 'd3/f3' },
      ],
      { chunkSize: 64 * 1024 },
    );
    const { result, events } = await download(layer.entries, sourcesOf([layer]), { blockingWrites });
    for (const entry of small) {
      const abs = join(out, entry.name);
      expect((await readFile(abs)).equals(entry.content), entry.name).toBe(true);
      const stats = await stat(abs);
      expect(stats.mode & 0o7777, entry.name).toBe(entry.mode);
      expect(stats.mtime.toISOString(), entry.name).toBe(new Date(entry.mtime).toISOString());
    }
    expect((await readFile(join(out, 'd1/big'))).equals(big)).toBe(true);
    expect(await readFile(join(out, 'd0/empty'), 'utf8')).toBe('');
    expect((await stat(join(out, 'd0/empty'))).mode & 0o7777).toBe(0o600);
    expect((await stat(join(out, 'd2/linked'))).ino).toBe((await stat(join(out, 'd3/f3'))).ino);
    expect(result).toMatchObject({ files: small.length + 2, hardlinks: 1 });
    expect(result.bytesWritten).toBe(small.reduce((sum, e) => sum + e.content.length, 0) + big.length);
    const done = events.filter((e) => e.type === 'file-done').map((e) => (e as { path: string }).path);
    expect(done.sort()).toEqual(
      layer.entries
        .filter((e) => e.type === 'reg')
        .map((e) => e.path)
        .sort(),
    );
    expect(await temporaries(out)).toEqual([]);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });

  it('checks the digest of a small file whose chunk digest is not the file digest', async () => {
    const layer = await buildLayer(tree(2, 10));
    const victim = layer.entry('d1/f5');
    const wrong = { ...victim, digest: `sha256:${'4'.repeat(64)}` };
    const entries = layer.entries.map((entry) => (entry === victim ? wrong : entry));
    const error = await failure(download(entries, sourcesOf([layer]), { blockingWrites }));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    await expect(lstat(join(out, 'd1/f5'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await temporaries(out)).toEqual([]);
  });

  it('refuses a directory swapped for a symlink in the middle of the run, writing nothing outside', async () => {
    const layer = await buildLayer(tree(1, 200));
    let swapped = false;
    const onEvent = (event: DownloadEvent) => {
      // synchronously, between two files of the same directory
      if (event.type !== 'file-done' || swapped) return;
      swapped = true;
      rmSync(join(out, 'd0'), { recursive: true });
      symlinkSync(outside, join(out, 'd0'));
    };
    const error = await failure(download(layer.entries, sourcesOf([layer]), { blockingWrites, onEvent }));
    expect(swapped).toBe(true);
    expect(error.code).toBe('E_UNSAFE_PATH');
    expect(await readdir(outside)).toEqual([]);
    expect(await readlink(join(out, 'd0'))).toBe(outside);
    expect(await temporaries(base)).toEqual([]);
  });

  it('cancelled half way: every file under its final name is whole, no temporary file anywhere', async () => {
    const small = tree(4, 100);
    const layer = await buildLayer(small);
    const controller = new AbortController();
    let done = 0;
    const onEvent = (event: DownloadEvent) => {
      if (event.type === 'file-done' && ++done === 150) controller.abort();
    };
    const error = await failure(
      download(layer.entries, sourcesOf([layer]), { blockingWrites, onEvent, signal: controller.signal }),
    );
    expect(error.code).toBe('E_ABORTED');
    expect(await temporaries(out)).toEqual([]);
    const written = (await listTree(out)).filter((p) => /^d\d\/f\d+$/.test(p));
    expect(written.length).toBeGreaterThanOrEqual(150);
    expect(written.length).toBeLessThan(small.length);
    const byName = new Map(small.map((entry) => [entry.name, entry.content]));
    for (const name of written)
      expect((await readFile(join(out, name))).equals(byName.get(name)!)).toBe(true);
  });
});
