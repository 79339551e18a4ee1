/**
 * The fault matrix: {one file, a directory, the whole image} × {registry faults}, through the library facade
 * (`openImage(...).get(...)`) against the real registry behind the fault front. Each cell ends with the exact
 * tree of a clean run, or with the documented error code; never with a wrong or partial file under its final
 * name; retries stay bounded.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_DIR } from '../../../src/download/resume.js';
import { TEMP_PREFIX } from '../../../src/download/safe-writer.js';
import { StargzError } from '../../../src/errors.js';
import { openImage } from '../../../src/starget.js';
import { payloadPosition, type WriterEntry, writeEstargz } from '../../helpers/estargz-writer.js';
import { type FaultFront, type FaultRequest, type FaultRule, startFaultFront } from '../../helpers/fronts.js';
import { buildImage, pushImage } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { snapshotTree, type TreeNode } from '../../unit/download/_tree.js';

const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const RETRY = { maxRetries: 3, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 5000 };
const CONCURRENCY = 2;
/** small ranges: every scope makes several content requests */
const DOWNLOAD = { concurrency: CONCURRENCY };

const big = randomBytes(300 * 1024);
const LAYER_1: WriterEntry[] = [
  { type: 'dir', name: 'etc' },
  { type: 'reg', name: 'etc/os-release', content: Buffer.from('ID=matrix\n') },
  { type: 'dir', name: 'app' },
  { type: 'dir', name: 'app/lib' },
  ...['a', 'b', 'c', 'd'].map(
    (name): WriterEntry => ({ type: 'reg', name: `app/lib/${name}`, content: randomBytes(3000) }),
  ),
  { type: 'reg', name: 'app/big', content: big },
  { type: 'symlink', name: 'app/current', linkName: 'big' },
];
const newB = randomBytes(5000);
const LAYER_2: WriterEntry[] = [
  { type: 'reg', name: 'app/lib/b', content: newB },
  { type: 'reg', name: 'etc/hostname', content: Buffer.from('matrix\n') },
];
const SCOPES = [
  { name: 'one file', patterns: ['app/big'] },
  { name: 'a directory', patterns: ['app/'] },
  { name: 'the whole image', patterns: ['.'] },
] as const;

let registry: RegistryServer;
let front: FaultFront;
let base: string;
let image: string;
const sizes = new Map<string, number>();
let corruptAt = 0;
let layerOneDigest = '';
const references = new Map<string, Record<string, TreeNode>>();

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-matrix-'));
  registry = await startRegistry();
  const one = writeEstargz(LAYER_1, { chunkSize: 64 * 1024 });
  const two = writeEstargz(LAYER_2);
  const built = buildImage({
    layers: [one, two].map((layer) => ({ data: layer.blob, annotations: { [TOC]: layer.tocDigest } })),
  });
  for (const layer of [one, two]) sizes.set(layer.digest, layer.blob.length);
  layerOneDigest = one.digest;
  corruptAt = payloadPosition(one, 'app/big', 2);
  await pushImage(registry.url, 'matrix/app', 'v1', built);
  front = await startFaultFront(registry.url);
  image = `${front.host}/matrix/app:v1`;
  for (const scope of SCOPES) {
    const out = join(base, `reference-${references.size}`);
    await get(scope.patterns, out);
    references.set(scope.name, comparable(await snapshotTree(out), scope.name));
  }
});

afterAll(async () => {
  await front?.close();
  await registry?.close();
  await rm(base, { recursive: true, force: true });
});

/** Directories not selected are created with the time of the run: their mtime is left out for one file. */
function comparable(tree: Record<string, TreeNode>, scope: string): Record<string, TreeNode> {
  if (scope !== 'one file') return tree;
  return Object.fromEntries(
    Object.entries(tree).map(([path, node]) => [path, node.type === 'dir' ? { ...node, mtimeMs: 0 } : node]),
  );
}

/** A content request: a ranged blob read that stops before the layer's TOC (not the footer/TOC tail read). */
function isContent(request: FaultRequest): boolean {
  const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(request.path)?.[1];
  const end = /^bytes=\d+-(\d+)$/.exec(request.range ?? '')?.[1];
  return digest !== undefined && end !== undefined && Number(end) + 1 < (sizes.get(digest) ?? 0) - 1024;
}

async function get(patterns: readonly string[], out: string, timeoutMs = 10_000) {
  // holdTailBytes 0: the layers fit in their tail reads, and every content read must cross the fault front
  const opened = await openImage(image, { plainHttp: true, retry: RETRY, timeoutMs, holdTailBytes: 0 });
  try {
    return await opened.get(patterns, out, DOWNLOAD).done;
  } finally {
    await opened.close();
  }
}

/** Runs a get; returns the StargzError code, or undefined on success. */
async function outcome(
  patterns: readonly string[],
  out: string,
  timeoutMs?: number,
): Promise<string | undefined> {
  try {
    await get(patterns, out, timeoutMs);
    return undefined;
  } catch (error) {
    if (!StargzError.is(error)) throw error;
    return error.code;
  }
}

/** No temporary file anywhere, and every file under its final name is the right one. */
async function expectNothingWrong(out: string, scope: string): Promise<void> {
  const want = references.get(scope)!;
  const tree = await snapshotTree(out, [RESUME_DIR]).catch(() => ({}) as Record<string, TreeNode>);
  for (const [path, node] of Object.entries(tree)) {
    expect(path).not.toContain(TEMP_PREFIX);
    if (node.type === 'file') expect(node.sha256, path).toBe(want[path]?.sha256);
  }
}

interface Fault {
  name: string;
  rules: () => FaultRule[];
  /** undefined: the exact tree; else the error code */
  code?: string;
  timeoutMs?: number;
  /** also checked after the run */
  check?: (scope: string) => void;
}

const content = { blobs: true, when: isContent };
/** the retry bound: each range in flight is tried at most maxRetries + 1 times before the run fails */
const MAX_HITS = CONCURRENCY * (RETRY.maxRetries + 1);

const FAULTS: Fault[] = [
  {
    name: '503 with Retry-After, then recovery',
    rules: () => [{ match: content, times: 1, action: { type: 'status', status: 503, retryAfter: 1 } }],
    check: () => expect(front.hits(0)).toBe(1),
  },
  {
    name: '503 with Retry-After on every content request',
    rules: () => [{ match: content, action: { type: 'status', status: 503, retryAfter: 0 } }],
    code: 'E_NETWORK',
    check: () => expect(front.hits(0)).toBeLessThanOrEqual(MAX_HITS),
  },
  {
    name: '429 with Retry-After, then recovery',
    rules: () => [{ match: content, times: 1, action: { type: 'status', status: 429, retryAfter: 1 } }],
    check: () => expect(front.hits(0)).toBe(1),
  },
  {
    name: '429 on every content request',
    rules: () => [{ match: content, action: { type: 'status', status: 429, retryAfter: 0 } }],
    code: 'E_RATE_LIMITED',
    check: () => expect(front.hits(0)).toBeLessThanOrEqual(MAX_HITS),
  },
  {
    name: 'connection reset mid-body',
    rules: () => [{ match: content, times: 2, action: { type: 'reset' } }],
    check: () => expect(front.hits(0)).toBeGreaterThan(0),
  },
  {
    name: 'connection reset on every content request',
    rules: () => [{ match: content, action: { type: 'reset', afterBytes: 10 } }],
    code: 'E_NETWORK',
    check: () => expect(front.hits(0)).toBeLessThanOrEqual(MAX_HITS * 2),
  },
  {
    name: 'truncated body',
    rules: () => [{ match: content, times: 2, action: { type: 'truncate' } }],
    check: () => expect(front.hits(0)).toBeGreaterThan(0),
  },
  {
    name: 'Range ignored (200 with the whole blob)',
    rules: () => [{ match: content, action: { type: 'ignore-range' } }],
    check: () => expect(front.hits(0)).toBeGreaterThan(0),
  },
  {
    name: 'multi-range refused (400)',
    rules: () => [{ match: { blobs: true }, action: { type: 'refuse-multirange' } }],
    check: () => expect(front.requests.some((r) => r.range?.includes(','))).toBe(false),
  },
  {
    name: 'Content-Range not the range asked for',
    rules: () => [{ match: content, action: { type: 'wrong-content-range' } }],
    code: 'E_PROTOCOL',
    check: () => expect(front.hits(0)).toBeLessThanOrEqual(MAX_HITS),
  },
  {
    name: 'slow beyond the timeout, once',
    rules: () => [{ match: content, times: 1, action: { type: 'delay', ms: 1500 } }],
    timeoutMs: 500,
    check: () => expect(front.hits(0)).toBe(1),
  },
  {
    name: 'slow beyond the timeout, always',
    rules: () => [{ match: content, action: { type: 'delay', ms: 1500 } }],
    timeoutMs: 400,
    code: 'E_NETWORK',
    check: () => expect(front.hits(0)).toBeLessThanOrEqual(MAX_HITS),
  },
];

describe.each(SCOPES)('fault matrix: $name', (scope) => {
  it.each(FAULTS)('$name', async (fault) => {
    const out = await mkdtemp(join(base, 'out-'));
    front.setRules(fault.rules());
    const code = await outcome(scope.patterns, out, fault.timeoutMs);
    fault.check?.(scope.name);
    front.setRules([]);
    expect(code).toBe(fault.code);
    await expectNothingWrong(out, scope.name);
    if (code === undefined) {
      expect(comparable(await snapshotTree(out), scope.name)).toEqual(references.get(scope.name));
    } else {
      // a rerun without the fault completes the tree
      expect(await outcome(scope.patterns, out)).toBeUndefined();
      expect(comparable(await snapshotTree(out), scope.name)).toEqual(references.get(scope.name));
    }
  });

  it('one corrupted byte: E_DIGEST_MISMATCH / E_CORRUPT, never the wrong file; a rerun completes', async () => {
    const out = await mkdtemp(join(base, 'out-'));
    front.setRules([
      {
        match: { blobs: true, when: (r) => isContent(r) && r.path.endsWith(layerOneDigest) },
        action: { type: 'corrupt', blobOffset: corruptAt },
      },
    ]);
    const code = await outcome(scope.patterns, out);
    const hits = front.hits(0);
    front.setRules([]);
    expect(hits).toBeGreaterThan(0);
    expect(['E_DIGEST_MISMATCH', 'E_CORRUPT']).toContain(code);
    await expectNothingWrong(out, scope.name);
    expect((await snapshotTree(out, [RESUME_DIR]))['app/big']).toBeUndefined();
    expect(await outcome(scope.patterns, out)).toBeUndefined();
    expect(comparable(await snapshotTree(out), scope.name)).toEqual(references.get(scope.name));
  });
});

describe('the reference runs', () => {
  it('hold the bytes that were pushed', () => {
    const whole = references.get('the whole image')!;
    const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
    expect(whole['app/big']?.sha256).toBe(sha(big));
    expect(whole['app/lib/b']?.sha256).toBe(sha(newB));
    expect(whole['app/current']).toMatchObject({ type: 'symlink', link: 'big' });
    expect(Object.keys(references.get('one file')!).sort()).toEqual(['app', 'app/big']);
  });
});
