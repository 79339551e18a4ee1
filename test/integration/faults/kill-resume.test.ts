/**
 * Resume after `kill -9`: a child process extracts an image from the real registry through a slow front and
 * is killed with SIGKILL mid-download; a rerun fetches only what is missing and ends with the same tree as
 * an uninterrupted run.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_DIR } from '../../../src/download/resume.js';
import { TEMP_PREFIX } from '../../../src/download/safe-writer.js';
import { type WriterEntry, writeEstargz } from '../../helpers/estargz-writer.js';
import { type FaultFront, startFaultFront } from '../../helpers/fronts.js';
import { buildImage, pushImage } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { readLayer, type TestLayer } from '../../unit/download/_layer.js';
import { snapshotTree } from '../../unit/download/_tree.js';
import { type GetRequest, getImage } from './_get.js';

const CHILD = join(import.meta.dirname, '_get-child.ts');
const STEPWISE = { concurrency: 1, maxRangeBytes: 1, maxGap: 0 };

const ENTRIES: WriterEntry[] = [
  { type: 'dir', name: 'app' },
  { type: 'dir', name: 'app/lib' },
  ...Array.from(
    { length: 16 },
    (_, i): WriterEntry => ({
      type: 'reg',
      name: `app/lib/part${String(i).padStart(2, '0')}`,
      content: randomBytes(20_000 + i),
    }),
  ),
  { type: 'reg', name: 'app/big', content: randomBytes(512 * 1024) },
  { type: 'symlink', name: 'app/current', linkName: 'big' },
  { type: 'hardlink', name: 'app/big-again', linkName: 'app/big' },
];

let registry: RegistryServer;
let front: FaultFront;
let base: string;
let layer: TestLayer;
let image: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-kill-'));
  registry = await startRegistry();
  const written = writeEstargz(ENTRIES, { chunkSize: 64 * 1024 });
  layer = await readLayer(written.blob);
  const built = buildImage({
    layers: [
      { data: written.blob, annotations: { 'containerd.io/snapshot/stargz/toc.digest': written.tocDigest } },
    ],
  });
  await pushImage(registry.url, 'resume/app', 'v1', built);
  front = await startFaultFront(registry.url);
  image = `${front.host}/resume/app:v1`;
});

afterAll(async () => {
  await front?.close();
  await registry?.close();
  await rm(base, { recursive: true, force: true });
});

/** Runs the child until `killWhen` says so (files done, bytes written), then kills it with SIGKILL. */
async function killedChild(
  request: GetRequest,
  killWhen: (done: string[], written: number) => boolean,
): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const done: string[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line) as { done?: string; written?: number; result?: unknown; error?: string };
    if (message.done) done.push(message.done);
    if (message.result || message.error) throw new Error(`the child ended before the kill: ${line}`);
    if (killWhen(done, message.written ?? 0)) {
      child.kill('SIGKILL');
      break;
    }
  }
  expect(await exited).toBe('SIGKILL');
  return done;
}

/** Blob range starts the front saw from request number `from` on. */
function rangeStarts(from: number): number[] {
  return front.requests
    .slice(from)
    .filter((r) => r.path.includes('/blobs/') && r.range !== undefined)
    .map((r) => Number(/^bytes=(\d+)-/.exec(r.range!)![1]));
}

describe('resume after SIGKILL', () => {
  it('keeps verified progress, refetches only what is missing, ends byte-identical', async () => {
    const reference = join(base, 'reference');
    front.setRules([]);
    const full = await getImage({ image, patterns: ['.'], outDir: reference, download: STEPWISE });
    const want = await snapshotTree(reference);

    const out = join(base, 'out');
    front.setRules([{ match: { blobs: true, ranged: true }, action: { type: 'delay', ms: 120 } }]);
    const done = await killedChild(
      { image, patterns: ['.'], outDir: out, download: STEPWISE },
      (files) => files.length === 6,
    );

    // after the kill: no temporary file, and every file under its final name is complete and right
    const left = await snapshotTree(out, [RESUME_DIR]);
    expect(Object.keys(left).filter((path) => path.includes(TEMP_PREFIX))).toEqual([]);
    for (const [path, node] of Object.entries(left)) {
      if (node.type === 'file') expect(node.sha256, path).toBe(want[path]!.sha256);
    }
    expect(await readdir(join(out, RESUME_DIR))).toContain('journal');

    front.setRules([]);
    const from = front.requests.length;
    const rerun = await getImage({ image, patterns: ['.'], outDir: out, download: STEPWISE });
    const asked = rangeStarts(from);
    for (const path of done) {
      for (const chunk of layer.entry(path).chunks) expect(asked, path).not.toContain(chunk.offset);
    }
    expect(rerun.resumedFiles).toBeGreaterThanOrEqual(done.length);
    expect(rerun.bytesFetched).toBeLessThan(full.bytesFetched);
    expect(await snapshotTree(out)).toEqual(want);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });

  it('keeps the verified chunks of a large file killed half way', async () => {
    const reference = join(base, 'reference-dir');
    front.setRules([]);
    await getImage({ image, patterns: ['app/big'], outDir: reference, download: STEPWISE });
    const want = await snapshotTree(reference);

    const out = join(base, 'out-big');
    front.setRules([{ match: { blobs: true, ranged: true }, action: { type: 'delay', ms: 120 } }]);
    // past three of its eight 64 KiB chunks
    await killedChild(
      { image, patterns: ['app/big'], outDir: out, download: STEPWISE },
      (_files, written) => written > 3 * 64 * 1024,
    );
    expect(await snapshotTree(out, [RESUME_DIR])).not.toHaveProperty(['app/big']);
    expect((await readdir(join(out, RESUME_DIR))).filter((name) => name.endsWith('.partial'))).toHaveLength(
      1,
    );

    front.setRules([]);
    const from = front.requests.length;
    const rerun = await getImage({ image, patterns: ['app/big'], outDir: out, download: STEPWISE });
    const chunks = layer.entry('app/big').chunks;
    const asked = rangeStarts(from);
    expect(asked).not.toContain(chunks[0]!.offset);
    expect(asked).not.toContain(chunks[1]!.offset);
    expect(asked).toContain(chunks.at(-1)!.offset);
    expect(rerun.resumedBytes).toBeGreaterThanOrEqual(2 * 64 * 1024);
    // (app/ is not selected: an implied directory, created with the time of the run)
    const got = await snapshotTree(out);
    expect(Object.keys(got).sort()).toEqual(['app', 'app/big']);
    expect(got['app/big']).toEqual(want['app/big']);
  });
});
