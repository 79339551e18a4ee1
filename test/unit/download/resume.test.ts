import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Downloader } from '../../../src/download/downloader.js';
import type { DownloadOptions, DownloadResult } from '../../../src/download/job.js';
import { RESUME_DIR } from '../../../src/download/resume.js';
import { StargzError } from '../../../src/errors.js';
import type { WriterEntry } from '../../helpers/estargz-writer.js';
import { buildLayer, TestBlobSource, type TestLayer } from './_layer.js';
import { snapshotTree } from './_tree.js';

let base: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-resume-'));
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const big = randomBytes(640 * 1024);
const small = Array.from({ length: 12 }, (_, i) => randomBytes(3000 + i * 100));
// every directory is declared, so that every mtime in the tree comes from the image
const IMAGE: WriterEntry[] = [
  { type: 'dir', name: 'etc', mode: 0o750 },
  { type: 'dir', name: 'big' },
  { type: 'dir', name: 'many', mode: 0o700, mtime: '2022-02-02T02:02:02Z' },
  { type: 'reg', name: 'etc/config', content: Buffer.from('key=value\n'), mode: 0o640 },
  { type: 'reg', name: 'big/blob', content: big },
  ...small.map((content, i): WriterEntry => ({ type: 'reg', name: `many/f${i}`, content })),
  { type: 'hardlink', name: 'many/f0-again', linkName: 'many/f0' },
  { type: 'symlink', name: 'etc/link', linkName: '../big/blob' },
  { type: 'reg', name: 'empty' },
];
/** one range per gzip member, one at a time: interruption points are exact */
const STEPWISE: DownloadOptions = { maxRangeBytes: 1, maxGap: 0, concurrency: 1 };

let layer: TestLayer;
beforeEach(async () => {
  layer ??= await buildLayer(IMAGE, { chunkSize: 64 * 1024 });
});

async function run(
  out: string,
  source: TestBlobSource,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const downloader = new Downloader({ sources: new Map([[layer.digest, source]]) });
  return downloader.startDownload({
    entries: layer.entries,
    outDir: out,
    options: { ...STEPWISE, ...options },
  }).done;
}

/** Runs until the `stopAt`-th range request is made, then aborts: returns the ranges completed before. */
async function interrupted(out: string, stopAt: number): Promise<[number, number][]> {
  const controller = new AbortController();
  let calls = 0;
  const source = new TestBlobSource(layer.blob, {
    delay: async () => {
      if (++calls === stopAt) controller.abort(new Error('interrupted'));
    },
  });
  const error = await run(out, source, { signal: controller.signal }).catch((e: unknown) => e);
  expect(StargzError.is(error) && error.code).toBe('E_ABORTED');
  return source.asked.slice(0, stopAt - 1);
}

async function reference(): Promise<{ tree: Awaited<ReturnType<typeof snapshotTree>>; asked: string[] }> {
  const out = join(base, 'reference');
  const source = new TestBlobSource(layer.blob);
  await run(out, source);
  return { tree: await snapshotTree(out), asked: source.asked.map(String) };
}

describe('resume after an interruption', () => {
  it('fetches only what is missing and ends with the same tree as an uninterrupted run', async () => {
    const { tree, asked: all } = await reference();
    expect(all.length).toBeGreaterThan(20);
    const out = join(base, 'out');
    // the big file has 10 chunks; stop in the middle of them
    const before = await interrupted(out, 6);
    expect(await readdir(join(out, RESUME_DIR))).toContain('journal');

    const source = new TestBlobSource(layer.blob);
    const result = await run(out, source);
    const again = source.asked.map(String);
    // nothing completed before is asked for again, and together they are the whole plan
    for (const range of before) expect(again).not.toContain(String(range));
    expect([...before.map(String), ...again].sort()).toEqual([...all].sort());
    expect(result.resumedBytes).toBeGreaterThan(0);
    expect(result.bytesFetched).toBe(source.bytesServed);

    expect(await snapshotTree(out)).toEqual(tree);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });

  it('reuses files completed before the interruption without fetching them', async () => {
    const { tree, asked: all } = await reference();
    const out = join(base, 'out');
    const before = await interrupted(out, all.length - 3);
    const source = new TestBlobSource(layer.blob);
    const result = await run(out, source);
    expect(source.asked.length).toBe(all.length - before.length);
    expect(result.resumedFiles).toBeGreaterThan(5);
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('refetches a chunk whose bytes in the partial file were changed', async () => {
    const { tree, asked: all } = await reference();
    const out = join(base, 'out');
    const before = await interrupted(out, 6);
    const partials = (await readdir(join(out, RESUME_DIR))).filter((name) => name.endsWith('.partial'));
    expect(partials).toHaveLength(1); // the big file
    const handle = await open(join(out, RESUME_DIR, partials[0]!), 'r+');
    await handle.write(Buffer.from('tampered'), 0, 8, 70_000); // inside chunk 1 (64 KiB .. 128 KiB)
    await handle.close();

    const source = new TestBlobSource(layer.blob);
    await run(out, source);
    const chunk1 = layer.entry('big/blob').chunks[1]!;
    expect(source.asked.map(String)).toContain(String([chunk1.offset, chunk1.compressedEnd]));
    // only that chunk is fetched again on top of what the first run did not get to
    expect(source.asked.length).toBe(all.length - before.length + 1);
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('refetches a completed file that was changed under its final name', async () => {
    const { tree, asked: all } = await reference();
    const out = join(base, 'out');
    const before = await interrupted(out, all.length - 1);
    await writeFile(join(out, 'etc/config'), 'key=evil\n');
    const source = new TestBlobSource(layer.blob);
    await run(out, source);
    expect(source.asked.length).toBe(all.length - before.length + 1);
    expect(await readFile(join(out, 'etc/config'), 'utf8')).toBe('key=value\n');
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('starts afresh with resume: false', async () => {
    const { tree, asked: all } = await reference();
    const out = join(base, 'out');
    await interrupted(out, 8);
    const source = new TestBlobSource(layer.blob);
    const result = await run(out, source, { resume: false });
    expect(source.asked.map(String)).toEqual(all);
    expect(result.resumedBytes).toBe(0);
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('throws away state older than a week', async () => {
    const { tree, asked: all } = await reference();
    const out = join(base, 'out');
    await interrupted(out, 8);
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await utimes(join(out, RESUME_DIR, 'journal'), eightDaysAgo, eightDaysAgo);
    const source = new TestBlobSource(layer.blob);
    const result = await run(out, source);
    expect(source.asked.map(String)).toEqual(all);
    expect(result.resumedBytes).toBe(0);
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('ignores a torn journal line left by a kill', async () => {
    const { tree } = await reference();
    const out = join(base, 'out');
    await interrupted(out, 6);
    await writeFile(join(out, RESUME_DIR, 'journal'), '{"key":"abc', { flag: 'a' });
    const source = new TestBlobSource(layer.blob);
    const result = await run(out, source);
    expect(result.resumedBytes).toBeGreaterThan(0);
    expect(await snapshotTree(out)).toEqual(tree);
  });

  it('refuses an image entry named like the resume directory', async () => {
    const odd = await buildLayer([{ type: 'reg', name: `${RESUME_DIR}/journal`, content: Buffer.from('x') }]);
    const downloader = new Downloader({ sources: new Map([[odd.digest, new TestBlobSource(odd.blob)]]) });
    const error = await downloader
      .startDownload({ entries: odd.entries, outDir: join(base, 'odd') })
      .done.catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_UNSAFE_PATH');
  });
});

describe('one run at a time in an output directory', () => {
  it('refuses a directory another live starget process is writing into, and writes nothing', async () => {
    const out = join(base, 'busy');
    await mkdir(join(out, RESUME_DIR), { recursive: true });
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(join(out, RESUME_DIR, 'lock'), `${other.pid}\n`);
      const error = await run(out, new TestBlobSource(layer.blob)).catch((e: unknown) => e);
      expect(StargzError.is(error) && error.code).toBe('E_IO');
      expect((error as Error).message).toContain(`another starget run (pid ${other.pid})`);
      expect(await readdir(out)).toEqual([RESUME_DIR]);
      expect(await readFile(join(out, RESUME_DIR, 'lock'), 'utf8')).toBe(`${other.pid}\n`);
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a run that is gone (killed) and cleans up after success', async () => {
    const out = join(base, 'stale');
    await mkdir(join(out, RESUME_DIR), { recursive: true });
    const gone = spawn('true', [], { stdio: 'ignore' });
    await new Promise((resolve) => gone.on('close', resolve));
    await writeFile(join(out, RESUME_DIR, 'lock'), `${gone.pid}\n`);
    await run(out, new TestBlobSource(layer.blob));
    expect(await readdir(out)).not.toContain(RESUME_DIR);
    expect(await readFile(join(out, 'etc/config'), 'utf8')).toBe('key=value\n');
  });

  it('lets only one of two concurrent downloads of this process write the same directory', async () => {
    const out = join(base, 'twice');
    const outcomes = await Promise.allSettled([
      run(out, new TestBlobSource(layer.blob)),
      run(out, new TestBlobSource(layer.blob)),
    ]);
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(StargzError.is((failed[0] as PromiseRejectedResult).reason)).toBe(true);
    expect(((failed[0] as PromiseRejectedResult).reason as StargzError).code).toBe('E_IO');
    expect(((failed[0] as PromiseRejectedResult).reason as StargzError).message).toContain(
      'another starget run',
    );
    expect(await readFile(join(out, 'etc/config'), 'utf8')).toBe('key=value\n');
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });

  it('keeps no lock when an interrupted run leaves its state, so the rerun resumes', async () => {
    const out = join(base, 'after-abort');
    await interrupted(out, 4);
    expect(await readdir(join(out, RESUME_DIR))).not.toContain('lock');
    const rerun = await run(out, new TestBlobSource(layer.blob));
    expect(rerun.resumedFiles + rerun.resumedBytes).toBeGreaterThan(0);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });
});
