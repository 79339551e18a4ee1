/**
 * SIGINT and SIGTERM in the real CLI (`node dist/cli/main.js get …`) during a slow download from the real
 * registry: the process stops its workers and exits 130 / 143, removes its temporary files, keeps its
 * verified progress, and a rerun finishes the tree fetching only what is missing.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_DIR } from '../../../src/download/resume.js';
import { TEMP_PREFIX } from '../../../src/download/safe-writer.js';
import { CLI, ensureBuilt, isolatedEnv, runStarget } from '../../e2e/cli-harness.js';
import { type WriterEntry, writeEstargz } from '../../helpers/estargz-writer.js';
import { type FaultFront, startFaultFront } from '../../helpers/fronts.js';
import { buildImage, pushImage } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { readLayer, type TestLayer } from '../../unit/download/_layer.js';
import { snapshotTree } from '../../unit/download/_tree.js';

const ENTRIES: WriterEntry[] = [
  { type: 'dir', name: 'data' },
  ...Array.from(
    { length: 12 },
    (_, i): WriterEntry => ({
      type: 'reg',
      name: `data/part${String(i).padStart(2, '0')}`,
      content: randomBytes(100 * 1024),
    }),
  ),
];

let registry: RegistryServer;
let front: FaultFront;
let base: string;
let image: string;
let reference: Awaited<ReturnType<typeof snapshotTree>>;
let layer: TestLayer;

beforeAll(async () => {
  ensureBuilt();
  base = await mkdtemp(join(tmpdir(), 'starget-signals-'));
  registry = await startRegistry();
  const written = writeEstargz(ENTRIES);
  layer = await readLayer(written.blob);
  await pushImage(registry.url, 'signals/app', 'v1', buildImage({ layers: [{ data: written.blob }] }));
  front = await startFaultFront(registry.url);
  image = `${front.host}/signals/app:v1`;
  const out = join(base, 'reference');
  const run = await runStarget(['get', image, 'data/', '-o', out, '--plain-http', '--concurrency', '1']);
  expect(run.code, run.stderr).toBe(0);
  reference = await snapshotTree(out);
});

afterAll(async () => {
  await front?.close();
  await registry?.close();
  await rm(base, { recursive: true, force: true });
});

/** Starts a slow get, sends `signal` once two content responses are trickling, returns the exit code. */
async function interrupt(
  signal: 'SIGINT' | 'SIGTERM',
  out: string,
): Promise<{ code: number | null; stderr: string }> {
  front.setRules([
    {
      match: { blobs: true, when: (r) => r.range !== undefined && !r.range.endsWith(`-`) },
      action: { type: 'delay', ms: 0, chunkSize: 16 * 1024, intervalMs: 40 },
    },
  ]);
  const from = front.requests.length;
  const child = spawn(
    process.execPath,
    [CLI, 'get', image, 'data/', '-o', out, '--plain-http', '--concurrency', '1'],
    { env: isolatedEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  // two files written while the content trickles in
  const written = async () =>
    (await readdir(join(out, 'data')).catch(() => [] as string[])).filter((name) => name.startsWith('part'));
  while ((await written()).length < 2) {
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(front.requests.slice(from).some((r) => r.fault === 'delay')).toBe(true);
  child.kill(signal);
  const code = await closed;
  front.setRules([]);
  return { code, stderr };
}

describe.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s during get', (signal, exitCode) => {
  it(`exits ${exitCode}, keeps verified progress, and a rerun completes the tree`, async () => {
    const out = join(base, `out-${signal}`);
    const { code, stderr } = await interrupt(signal, out);
    expect(code, stderr).toBe(exitCode);

    const left = await snapshotTree(out, [RESUME_DIR]);
    expect(Object.keys(left).filter((path) => path.includes(TEMP_PREFIX))).toEqual([]);
    for (const [path, node] of Object.entries(left)) {
      if (node.type === 'file') expect(node.sha256, path).toBe(reference[path]!.sha256);
    }
    const done = Object.values(left).filter((node) => node.type === 'file').length;
    expect(done).toBeLessThan(12);
    expect(await readdir(join(out, RESUME_DIR))).toContain('journal');

    const from = front.requests.length;
    const rerun = await runStarget(['get', image, 'data/', '-o', out, '--plain-http', '--concurrency', '1']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const ranges = front.requests
      .slice(from)
      .filter((r) => r.path.includes('/blobs/') && r.range !== undefined)
      .map((r) => /^bytes=(\d+)-(\d+)$/.exec(r.range!)!.slice(1).map(Number) as [number, number]);
    // nothing written before the signal is read again
    for (const path of Object.keys(left).filter((p) => left[p]!.type === 'file')) {
      const offset = layer.entry(path).chunks[0]!.offset;
      for (const [start, end] of ranges) expect(offset < start || offset > end, path).toBe(true);
    }
    const tree = await snapshotTree(out);
    expect(tree).toEqual(reference);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });
});

describe('--no-resume after an interrupted get', () => {
  it('fetches every file again and still ends with the right tree and no resume state', async () => {
    const out = join(base, 'out-no-resume');
    const { code, stderr } = await interrupt('SIGINT', out);
    expect(code, stderr).toBe(130);
    expect(await readdir(join(out, RESUME_DIR))).toContain('journal');

    const from = front.requests.length;
    const rerun = await runStarget([
      'get',
      image,
      'data/',
      '-o',
      out,
      '--plain-http',
      '--concurrency',
      '1',
      '--no-resume',
    ]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const ranges = front.requests
      .slice(from)
      .filter((r) => r.path.includes('/blobs/') && r.range !== undefined)
      .map((r) => /^bytes=(\d+)-(\d+)$/.exec(r.range!)!.slice(1).map(Number) as [number, number]);
    for (const entry of ENTRIES.filter((e) => e.type === 'reg')) {
      const offset = layer.entry(entry.name).chunks[0]!.offset;
      expect(
        ranges.some(([start, end]) => offset >= start && offset <= end),
        entry.name,
      ).toBe(true);
    }
    expect(await snapshotTree(out)).toEqual(reference);
    expect(await readdir(out)).not.toContain(RESUME_DIR);
  });
});
