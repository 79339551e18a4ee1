/**
 * The registry client against the real registry behind the harness fronts: a redirect front that sends blob
 * GETs to signed URLs on another origin, and a fault front that injects 503/429, resets, truncation, ignored
 * ranges and wrong Content-Range.
 */

import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { BlobRangeResponse, Descriptor, ImageReference } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import {
  type FaultFront,
  type RedirectFront,
  startFaultFront,
  startRedirectFront,
} from '../../helpers/fronts.js';
import { type OciLayout, openLayout, pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

const TRICKY = join(import.meta.dirname, '../../fixtures/images/mini-tricky/layout');

async function collect(response: BlobRangeResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of response.body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

let layout: OciLayout;
let layer: Descriptor;
let blob: Buffer;
const clients: RegistryClient[] = [];
let waits: number[] = [];

function makeClient(options: RegistryClientOptions = {}): RegistryClient {
  const client = new RegistryClient({
    random: () => 0,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  layout = await openLayout(TRICKY);
  const manifest = await layout.json<{ layers: Descriptor[] }>(layout.tagged('v1').digest);
  layer = manifest.layers.reduce((a, b) => (b.size > a.size ? b : a));
  blob = await layout.blob(layer.digest);
});
beforeEach(() => {
  waits = [];
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe('redirect front (token auth registry, signed URLs on another origin)', () => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  let front: RedirectFront;
  let ref: ImageReference;

  beforeAll(async () => {
    tokens = await startTokenServer({ users: { bob: 'builder' }, anonymousPull: '*' });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    await pushLayout(registry.url, TRICKY, 'public/tricky', 'v1', {
      credentials: { username: 'bob', password: 'builder' },
    });
    front = await startRedirectFront(registry, { signedUrlTtlMs: 60_000 });
    ref = parseReference(`${front.host}/public/tricky:v1`);
  });
  afterAll(async () => {
    await front?.close();
    await registry?.close();
    await tokens?.close();
  });

  it('reads ranges through the redirect without sending credentials to the blob origin', async () => {
    const client = makeClient({
      credentials: { get: async () => ({ kind: 'basic', username: 'bob', password: 'builder' }) },
    });
    const image = await client.getManifest(ref);
    expect(image.digest).toBe(layout.tagged('v1').digest);
    const first = await client.readRange(ref, layer.digest, 10, 1010);
    expect((await collect(first)).equals(blob.subarray(10, 1010))).toBe(true);
    const tail = await client.blob(ref, layer).readTail(200);
    expect((await collect(tail)).equals(blob.subarray(layer.size - 200))).toBe(true);
    expect(front.blobOrigin.violations).toEqual([]);
    expect(front.blobOrigin.requests.map((r) => r.range)).toEqual([
      'bytes=10-1009',
      `bytes=${layer.size - 200}-${layer.size - 1}`,
    ]);
    expect(front.requests.some((r) => r.authorization)).toBe(true);
  });

  it('resolves the blob URL again after the signed URL expires', async () => {
    const client = makeClient();
    await collect(await client.readRange(ref, layer.digest, 0, 100));
    const blobRedirects = () => front.requests.filter((r) => r.fault === 'redirect').length;
    const redirectsBefore = blobRedirects();
    front.expireSignedUrls();
    const again = await client.readRange(ref, layer.digest, 100, 300);
    expect((await collect(again)).equals(blob.subarray(100, 300))).toBe(true);
    expect(blobRedirects() - redirectsBefore).toBe(1);
    expect(front.blobOrigin.requests.at(-2)).toMatchObject({ status: 403, fault: 'signed-url-expired' });
    expect(front.blobOrigin.requests.at(-1)).toMatchObject({ status: 206, range: 'bytes=100-299' });
    expect(front.blobOrigin.violations).toEqual([]);
  });
});

describe('fault front (registry without auth)', () => {
  let registry: RegistryServer;
  let front: FaultFront;
  let ref: ImageReference;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushLayout(registry.url, TRICKY, 'fixtures/tricky', 'v1');
    front = await startFaultFront(registry);
    ref = parseReference(`${front.host}/fixtures/tricky:v1`);
  });
  afterAll(async () => {
    await front?.close();
    await registry?.close();
  });
  beforeEach(() => front.setRules([]));

  it('retries 503 and 429 as Retry-After says', async () => {
    front.setRules([
      { match: { manifests: true }, times: 1, action: { type: 'status', status: 503, retryAfter: 3 } },
      { match: { manifests: true }, times: 1, action: { type: 'status', status: 429, retryAfter: 1 } },
    ]);
    const image = await makeClient().getManifest(ref);
    expect(image.digest).toBe(layout.tagged('v1').digest);
    expect(waits).toEqual([3000, 1000]);
  });

  it('gives E_RATE_LIMITED when 429 persists', async () => {
    front.setRules([
      {
        match: { manifests: true },
        action: {
          type: 'status',
          status: 429,
          headers: { 'content-type': 'application/json' },
          body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
        },
      },
    ]);
    const error = await failure(makeClient({ retry: { maxRetries: 2 } }).getManifest(ref));
    expect(error.code).toBe('E_RATE_LIMITED');
    expect(error.message).toContain('slow down');
    expect(waits).toEqual([200, 400]);
  });

  it.each(['reset', 'truncate'] as const)('resumes a blob body after a %s mid-body', async (type) => {
    front.setRules([{ match: { blobs: true }, times: 1, action: { type, afterBytes: 300 } }]);
    const before = front.requests.length;
    const response = await makeClient().readRange(ref, layer.digest, 0, layer.size);
    expect(response.kind).toBe('partial');
    expect((await collect(response)).equals(blob)).toBe(true);
    const ranges = front.requests
      .slice(before)
      .filter((r) => r.path.includes('/blobs/'))
      .map((r) => r.range);
    expect(ranges[0]).toBe(`bytes=0-${layer.size - 1}`);
    // resumed from what arrived (a reset may lose a few of the 300 bytes sent before it)
    const resumed = new RegExp(`^bytes=(\\d+)-${layer.size - 1}$`).exec(ranges[1] ?? '');
    expect(resumed).not.toBeNull();
    expect(Number(resumed?.[1])).toBeGreaterThan(0);
    expect(Number(resumed?.[1])).toBeLessThanOrEqual(300);
    expect(ranges).toHaveLength(2);
  });

  it('returns the whole blob when Range is ignored', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'ignore-range' } }]);
    const client = makeClient();
    const response = await client.readRange(ref, layer.digest, 100, 200);
    expect(response).toMatchObject({ kind: 'whole', start: 0, end: layer.size, totalSize: layer.size });
    expect((await collect(response)).equals(blob)).toBe(true);
    expect(client.ignoresRange(front.host)).toBe(true);
  });

  it('refuses a wrong Content-Range with E_PROTOCOL', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'wrong-content-range' } }]);
    const error = await failure(makeClient().readRange(ref, layer.digest, 0, 10));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain('bytes 1-10/');
  });

  it('gives E_NETWORK naming the status when 5xx persists', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'status', status: 502 } }]);
    const error = await failure(makeClient().readRange(ref, layer.digest, 0, 10));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain('HTTP 502');
    expect(waits).toEqual([200, 400, 800]);
  });
});
