/**
 * The TOC and manifest cache end to end, against the real registry behind a recording front: what a cold
 * and a warm run ask the registry, a corrupted entry being fetched again, `--no-cache`, the tail bytes
 * already read serving small layers' files, and `starget cache info|prune`.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultFront, type FrontRequestRecord, startFaultFront } from '../helpers/fronts.js';
import { readManifestTsv } from '../helpers/manifest-tsv.js';
import { pushLayout } from '../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../helpers/registry-server.js';
import { ensureBuilt, ROOT, runStarget } from './cli-harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'images');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const expectedSha = (image: string, path: string, platform = '') =>
  readManifestTsv(join(FIXTURES, image, 'expected', platform, 'manifest.tsv')).find((r) => r.path === path)!
    .sha256;

let registry: RegistryServer;
let front: FaultFront;
let work: string;
/** blob digest → size, for every blob of the pushed fixtures */
const blobSizes = new Map<string, number>();

async function learnBlobSizes(image: string): Promise<void> {
  const dir = join(FIXTURES, image, 'layout', 'blobs', 'sha256');
  for (const name of await readdir(dir)) blobSizes.set(`sha256:${name}`, (await stat(join(dir, name))).size);
}

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  await pushLayout(registry.url, join(FIXTURES, 'mini-tricky', 'layout'), 'fx/tricky', 'v1');
  await pushLayout(registry.url, join(FIXTURES, 'mini-multi', 'layout'), 'fx/multi', 'v1');
  await learnBlobSizes('mini-tricky');
  await learnBlobSizes('mini-multi');
  front = await startFaultFront(registry.url);
  work = await mkdtemp(join(tmpdir(), 'starget-e2e-cache-'));
}, 60_000);

afterAll(async () => {
  await front?.close();
  await registry?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Traffic {
  /** `HEAD tag`, `GET tag`, `GET digest` per manifest request, in order */
  manifests: string[];
  /** blob requests reading a layer's last byte (the tail read of opening a layer), by digest */
  tails: string[];
  /** the other blob requests (file content) */
  content: string[];
}

/** Splits what the front saw into manifest requests, layer tail reads and content reads. */
function traffic(records: readonly FrontRequestRecord[]): Traffic {
  const out: Traffic = { manifests: [], tails: [], content: [] };
  for (const record of records) {
    const manifest = /\/manifests\/([^/?]+)$/.exec(record.path);
    if (manifest) {
      out.manifests.push(`${record.method} ${manifest[1]!.startsWith('sha256:') ? 'digest' : 'tag'}`);
      continue;
    }
    const blob = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(record.path);
    if (!blob) continue;
    const digest = blob[1]!;
    const range = /^bytes=\d+-(\d+)$/.exec(record.range ?? '');
    const isTail = range !== null && Number(range[1]) === blobSizes.get(digest)! - 1;
    (isTail ? out.tails : out.content).push(digest);
  }
  return out;
}

/** Runs the CLI through the front with the cache in `cacheDir` and returns what the registry saw. */
async function run(args: string[], cacheDir: string) {
  const before = front.requests.length;
  const result = await runStarget(args, { env: { STARGET_CACHE_DIR: cacheDir } });
  expect(result.code, result.stderr).toBe(0);
  return { result, seen: traffic(front.requests.slice(before)) };
}

async function cacheFiles(cacheDir: string, kind: string): Promise<string[]> {
  const dir = join(cacheDir, 'v1', kind, 'sha256');
  return (await readdir(dir).catch(() => [] as string[])).map((name) => join(dir, name));
}

const tricky = () => `${front.host}/fx/tricky:v1`;
const trickyLayers = 3;

describe('cold and warm runs', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(work, 'cache-'));
  });

  it('cold: HEAD + GET of the manifest and one tail per layer; warm: the HEAD and content reads only', async () => {
    const out1 = join(cacheDir, 'out1');
    const cold = await run(['get', tricky(), 'big/random-300K', '-o', out1], cacheDir);
    expect(cold.seen.manifests).toEqual(['HEAD tag', 'GET digest']);
    expect(new Set(cold.seen.tails).size).toBe(trickyLayers);
    expect(cold.seen.tails).toHaveLength(trickyLayers);
    expect(sha256(await readFile(join(out1, 'big/random-300K')))).toBe(
      expectedSha('mini-tricky', 'big/random-300K'),
    );
    expect(await cacheFiles(cacheDir, 'toc')).toHaveLength(trickyLayers);
    expect(await cacheFiles(cacheDir, 'manifest')).toHaveLength(1);

    const out2 = join(cacheDir, 'out2');
    const warm = await run(['get', tricky(), 'big/random-300K', '-o', out2], cacheDir);
    expect(warm.seen.manifests).toEqual(['HEAD tag']);
    expect(warm.seen.tails).toEqual([]);
    expect(warm.seen.content.length).toBeGreaterThan(0);
    expect(await readFile(join(out2, 'big/random-300K'))).toEqual(
      await readFile(join(out1, 'big/random-300K')),
    );
  });

  it('an index: warm runs need no manifest body, the platform choice is cached', async () => {
    const image = `${front.host}/fx/multi:v1`;
    const args = (out: string) => ['get', image, 'bin/only-arm64', '-o', out, '--platform', 'linux/arm64'];
    const cold = await run(args(join(cacheDir, 'o1')), cacheDir);
    expect(cold.seen.manifests).toEqual(['HEAD tag', 'GET digest', 'GET digest']);
    const warm = await run(args(join(cacheDir, 'o2')), cacheDir);
    expect(warm.seen.manifests).toEqual(['HEAD tag']);
    expect(warm.seen.tails).toEqual([]);
    expect(sha256(await readFile(join(cacheDir, 'o2', 'bin/only-arm64')))).toBe(
      expectedSha('mini-multi', 'bin/only-arm64', 'linux-arm64'),
    );
    // the other platform is another manifest: fetched, not taken from the arm64 entries
    const amd = await run(['ls', image, '--platform', 'linux/amd64'], cacheDir);
    expect(amd.seen.manifests).toEqual(['HEAD tag', 'GET digest', 'GET digest']);
    expect(amd.result.stdout.toString()).not.toContain('only-arm64');
  });

  it('a corrupted TOC or manifest entry is discarded and fetched again', async () => {
    await run(['ls', tricky()], cacheDir);
    const [tocFile] = await cacheFiles(cacheDir, 'toc');
    const [manifestFile] = await cacheFiles(cacheDir, 'manifest');
    for (const file of [tocFile!, manifestFile!]) {
      const bytes = await readFile(file);
      bytes[bytes.length - 1]! ^= 0xff;
      await writeFile(file, bytes);
    }
    const layer = `sha256:${tocFile!.slice(tocFile!.lastIndexOf('/') + 1)}`;
    const again = await run(['ls', tricky()], cacheDir);
    expect(again.seen.manifests).toEqual(['HEAD tag', 'GET digest']);
    expect(again.seen.tails).toEqual([layer]);
    expect(again.result.stderr).toContain('discarding a bad entry');
    const third = await run(['ls', tricky()], cacheDir);
    expect(third.seen.manifests).toEqual(['HEAD tag']);
    expect(third.seen.tails).toEqual([]);
    expect(third.result.stdout.toString()).toBe(again.result.stdout.toString());
  });

  it('--no-cache: neither reads nor writes the cache', async () => {
    await run(['ls', tricky()], cacheDir);
    const before = await cacheFiles(cacheDir, 'toc');
    for (let i = 0; i < 2; i++) {
      const off = await run(['ls', tricky(), '--no-cache'], cacheDir);
      expect(off.seen.manifests).toEqual(['GET tag']);
      expect(off.seen.tails).toHaveLength(trickyLayers);
    }
    const empty = await mkdtemp(join(work, 'unused-'));
    await run(['ls', tricky(), '--no-cache'], empty);
    expect(await readdir(empty)).toEqual([]);
    expect(await cacheFiles(cacheDir, 'toc')).toEqual(before);
  });
});

describe('tail bytes already read', () => {
  it('serve the files of small layers without another request', async () => {
    const cacheDir = await mkdtemp(join(work, 'cache-'));
    const args = (out: string) => ['get', tricky(), 'big/', 'app/main.sh', '-o', out, '--no-cache'];
    // a 1 KiB tail holds no payload: every file is a range read
    const ranged = await run([...args(join(cacheDir, 'a')), '--tail-size', '1024'], cacheDir);
    expect(ranged.seen.content.length).toBeGreaterThan(0);
    // the default tail covers these small layers whole
    const held = await run([...args(join(cacheDir, 'b')), '--debug'], cacheDir);
    expect(held.seen.content).toEqual([]);
    expect(held.result.stderr).toContain('reads served from layer tails already read');
    for (const path of ['big/random-300K', 'big/compressible-1M', 'big/64K-plus-1', 'app/main.sh']) {
      expect(sha256(await readFile(join(cacheDir, 'b', path)))).toBe(expectedSha('mini-tricky', path));
    }
  });
});

describe('starget cache info and prune', () => {
  it('counts the entries and removes them', async () => {
    const cacheDir = await mkdtemp(join(work, 'cache-'));
    await run(['ls', tricky()], cacheDir);
    const info = await run(['cache', 'info', '--json'], cacheDir);
    const parsed = JSON.parse(info.result.stdout.toString()) as {
      dir: string;
      entries: number;
      tocs: { entries: number; bytes: number };
      manifests: { entries: number };
    };
    expect(parsed.dir).toBe(cacheDir);
    expect(parsed.tocs.entries).toBe(trickyLayers);
    expect(parsed.tocs.bytes).toBeGreaterThan(0);
    expect(parsed.manifests.entries).toBe(1);
    expect(parsed.entries).toBe(trickyLayers + 1);
    const text = await run(['cache', 'info'], cacheDir);
    expect(text.result.stdout.toString()).toContain(cacheDir);

    const young = await run(['cache', 'prune', '--older-than', '1h'], cacheDir);
    expect(young.result.stdout.toString()).toContain('removed 0 entries');
    const all = await run(['cache', 'prune', '--all', '--json'], cacheDir);
    expect(JSON.parse(all.result.stdout.toString())).toMatchObject({ removed: trickyLayers + 1 });
    const after = await run(['cache', 'info', '--json'], cacheDir);
    expect(JSON.parse(after.result.stdout.toString())).toMatchObject({ entries: 0 });

    const bad = await runStarget(['cache', 'prune', '--older-than', 'soon'], {
      env: { STARGET_CACHE_DIR: cacheDir },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than');
  });

  it('defaults to $XDG_CACHE_HOME/starget', async () => {
    const xdg = await mkdtemp(join(work, 'xdg-'));
    const result = await runStarget(['cache', 'info', '--json'], { env: { XDG_CACHE_HOME: xdg } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.toString()).dir).toBe(join(xdg, 'starget'));
  });
});

describe('the library', () => {
  it('openImage with a cache directory: the second image reads no tail and says so in the stats', async () => {
    const { openImage } = await import('../../src/index.js');
    const dir = await mkdtemp(join(work, 'lib-cache-'));
    const first = await openImage(tricky(), { cache: dir });
    const listed = (await first.list()).map((e) => e.path);
    await first.close(); // waits for the stores
    expect(first.cache?.stats()).toMatchObject({ tocMisses: trickyLayers, tocHits: 0 });
    const before = front.requests.length;
    const second = await openImage(tricky(), { cache: dir });
    expect((await second.list()).map((e) => e.path)).toEqual(listed);
    await second.close();
    expect(second.cache?.stats()).toMatchObject({ tocHits: trickyLayers, manifestHits: 1 });
    expect(traffic(front.requests.slice(before))).toEqual({
      manifests: ['HEAD tag'],
      tails: [],
      content: [],
    });
    const off = await openImage(tricky(), { cache: false });
    expect(off.cache).toBeUndefined();
    await off.close();
  });
});
