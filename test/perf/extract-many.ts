/**
 * Micro-benchmark of extracting many small files (not a test): builds one eStargz layer of many small files
 * spread over directories with the test writer, extracts all of it through `Downloader` from a
 * `MemoryBlobSource` into a temporary directory, and prints wall time, CPU, context switches and peak RSS
 * per run (each run in a fresh child process). No network: what remains is the per-file cost of decoding
 * and writing. The layer is cached as `<dir>/starget-perf-<files>-<dirs>.blob` between invocations.
 *
 *   node --import tsx test/perf/extract-many.ts [--files 20000] [--dirs 500] [--runs 3]
 *        [--concurrency 4] [--no-resume] [--thread-pool] [--dir /tmp] [--json]
 *
 * `--thread-pool` sets `blockingWrites: false` (an option only newer code reads).
 *
 * For syscall counts run it under `strace -f -c -o /tmp/strace.txt node --import tsx …`.
 */

import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Downloader } from '../../src/download/downloader.js';
import { openLayer } from '../../src/estargz/layer.js';
import { type WriterEntry, writeEstargz } from '../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../helpers/memory-blob-source.js';
import { toDownloadEntries } from '../unit/download/_layer.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    dirs: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    'no-resume': { type: 'boolean', default: false },
    'thread-pool': { type: 'boolean', default: false },
    dir: { type: 'string', default: tmpdir() },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const fileCount = Number(args.files);
const dirCount = Number(args.dirs);
const runs = Number(args.runs);

/** A small deterministic PRNG (mulberry32), so every run of the script builds the same layer. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildEntries(): { entries: WriterEntry[]; bytes: number } {
  const next = random(42);
  const words = ['alpha', 'beta', 'gamma', 'delta', 'import', 'export', 'const', 'return', '\n', '  '];
  const entries: WriterEntry[] = [];
  for (let d = 0; d < dirCount; d++) {
    const name = `pkg${Math.floor(d / 25)}/mod${d}`;
    if (d % 25 === 0) entries.push({ type: 'dir', name: `pkg${Math.floor(d / 25)}`, mode: 0o755 });
    entries.push({ type: 'dir', name, mode: 0o755 });
  }
  let bytes = 0;
  for (let i = 0; i < fileCount; i++) {
    const d = i % dirCount;
    // log-uniform 64 B .. 16 KiB, median about 1 KiB: a node_modules-like mix
    const size = Math.round(64 * 256 ** next());
    let text = '';
    while (text.length < size) text += words[Math.floor(next() * words.length)] + ' ';
    const content = Buffer.from(text.slice(0, size));
    bytes += size;
    entries.push({
      type: 'reg',
      name: `pkg${Math.floor(d / 25)}/mod${d}/file${i}.js`,
      mode: i % 7 === 0 ? 0o755 : 0o644,
      content,
    });
  }
  return { entries, bytes };
}

async function countFiles(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) count++;
  }
  return count;
}

interface RunFigures {
  wallMs: number;
  perFileUs: number;
  userMs: number;
  systemMs: number;
  voluntaryCtxSwitches: number;
  involuntaryCtxSwitches: number;
  requests: number;
  peakRssMB: number;
}

/** One extraction in this process (a fresh child per run, so that peak RSS is the extraction's own). */
async function extractOnce(blobPath: string): Promise<void> {
  const blob = await readFile(blobPath);
  const source = new MemoryBlobSource(blob);
  const layer = await openLayer(source);
  const entries = toDownloadEntries(layer.toc.entries, source.digest);
  const base = await mkdtemp(join(args.dir, 'starget-perf-'));
  const out = join(base, 'out');
  try {
    const downloader = new Downloader({ sources: new Map([[source.digest, source]]) });
    const usageBefore = process.resourceUsage();
    const started = performance.now();
    const result = await downloader.startDownload({
      entries,
      outDir: out,
      options: {
        concurrency: Number(args.concurrency),
        resume: !args['no-resume'],
        ...(args['thread-pool'] ? { blockingWrites: false } : {}),
      },
    }).done;
    const wallMs = performance.now() - started;
    const usage = process.resourceUsage();
    const files = await countFiles(out);
    if (files !== fileCount || result.files !== fileCount) {
      throw new Error(`expected ${fileCount} files, found ${files} (result says ${result.files})`);
    }
    const figures: RunFigures = {
      wallMs: Math.round(wallMs),
      perFileUs: Math.round((wallMs * 1000) / fileCount),
      userMs: Math.round((usage.userCPUTime - usageBefore.userCPUTime) / 1000),
      systemMs: Math.round((usage.systemCPUTime - usageBefore.systemCPUTime) / 1000),
      voluntaryCtxSwitches: usage.voluntaryContextSwitches - usageBefore.voluntaryContextSwitches,
      involuntaryCtxSwitches: usage.involuntaryContextSwitches - usageBefore.involuntaryContextSwitches,
      requests: result.requests,
      peakRssMB: Math.round(usage.maxRSS / 1024),
    };
    console.log(JSON.stringify(figures));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const blobPath = join(args.dir, `starget-perf-${fileCount}-${dirCount}.blob`);
  const cached = await stat(blobPath).catch(() => undefined);
  if (!cached) {
    const builtAt = performance.now();
    const { entries, bytes } = buildEntries();
    const written = writeEstargz(entries);
    await writeFile(blobPath, written.blob);
    console.error(
      `layer: ${fileCount} files (${(bytes / 1e6).toFixed(1)} MB) in ${dirCount} dirs, ` +
        `${(written.blob.length / 1e6).toFixed(1)} MB compressed, built in ${Math.round(performance.now() - builtAt)} ms`,
    );
  }
  console.error(`layer: ${blobPath}`);
  const results: RunFigures[] = [];
  for (let run = 1; run <= runs; run++) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', blobPath],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (child.status !== 0) throw new Error(`run ${run} failed (exit ${child.status})`);
    const figures = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as RunFigures;
    results.push(figures);
    console.error(
      `run ${run}: ${figures.wallMs} ms (${figures.perFileUs} µs/file), user ${figures.userMs} ms, ` +
        `sys ${figures.systemMs} ms, ctx ${figures.voluntaryCtxSwitches}+${figures.involuntaryCtxSwitches}, ` +
        `${figures.requests} requests, peak RSS ${figures.peakRssMB} MB`,
    );
  }
  const walls = results.map((r) => r.wallMs).sort((a, b) => a - b);
  const median = walls[Math.floor(walls.length / 2)]!;
  console.error(`median: ${median} ms (${Math.round((median * 1000) / fileCount)} µs/file)`);
  if (args.json) console.log(JSON.stringify({ fileCount, dirCount, results, medianMs: median }));
}

if (args.child) await extractOnce(args.child);
else await main();
