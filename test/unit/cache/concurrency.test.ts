import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache } from '../../../src/cache/index.js';
import { layerDigestFor, makeToc } from './toc-sample.js';

const run = promisify(execFile);
const worker = fileURLToPath(new URL('./concurrent-worker.ts', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starget-cache-conc-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface WorkerStats {
  tocHits: number;
  discarded: number;
  writes: number;
  writeFailures: number;
  torn: number;
  reads: number;
}

async function spawnWorker(role: 'writer' | 'reader', layer: string, rounds: number, size: number) {
  const stop = join(dir, 'stop');
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', worker, role, dir, layer, String(rounds), String(size), stop],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout) as WorkerStats;
}

describe('ContentCache shared by processes', () => {
  it('never shows a half-written entry while several processes write the same key', async () => {
    const layer = layerDigestFor('shared');
    const size = 4 * 1024 * 1024;
    const readersDone = Promise.all([
      spawnWorker('reader', layer, 0, size),
      spawnWorker('reader', layer, 0, size),
    ]);
    const writers = await Promise.all([
      spawnWorker('writer', layer, 15, size),
      spawnWorker('writer', layer, 15, size),
      spawnWorker('writer', layer, 15, size),
    ]);
    await writeFile(join(dir, 'stop'), '');
    const readers = await readersDone;
    for (const w of writers) expect(w).toMatchObject({ writes: 15, writeFailures: 0 });
    for (const r of readers) expect(r).toMatchObject({ discarded: 0, torn: 0 });
    expect(readers.reduce((n, r) => n + r.tocHits, 0)).toBeGreaterThan(0);
    const got = await new ContentCache({ dir }).getToc(layer, makeToc(size).tocDigest);
    expect(got).toBeDefined();
    // every temp file was renamed into place
    const leftovers = (await readdir(join(dir, 'v1', 'toc', 'sha256'))).filter((n) => n.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });
});
