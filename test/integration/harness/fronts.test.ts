import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FaultFront,
  type RedirectFront,
  startFaultFront,
  startRedirectFront,
} from '../../helpers/fronts.js';
import { MediaTypes, type OciDescriptor, openLayout, pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

const TRICKY = join(import.meta.dirname, '../../fixtures/images/mini-tricky/layout');
const bytes = async (res: Response) => Buffer.from(await res.arrayBuffer());

/** The first (largest) layer of mini-tricky: its descriptor and bytes. */
async function firstLayer(): Promise<{ layer: OciDescriptor; blob: Buffer }> {
  const layout = await openLayout(TRICKY);
  const manifest = await layout.json<{ layers: OciDescriptor[] }>(layout.tagged('v1').digest);
  const layer = manifest.layers[0]!;
  return { layer, blob: await layout.blob(layer.digest) };
}

describe('startRedirectFront (registry with token auth)', () => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  let front: RedirectFront;
  let layer: OciDescriptor;
  let blob: Buffer;
  let bearer: string;
  const blobPath = () => `/v2/public/tricky/blobs/${layer.digest}`;

  beforeAll(async () => {
    tokens = await startTokenServer({ anonymousPull: ['public/tricky'], users: { u: 'p' } });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    await pushLayout(registry.url, TRICKY, 'public/tricky', 'v1', {
      credentials: { username: 'u', password: 'p' },
    });
    front = await startRedirectFront(registry, { signedUrlTtlMs: 60_000 });
    ({ layer, blob } = await firstLayer());
    const answer = await fetch(
      `${tokens.realm}?service=${tokens.service}&scope=repository:public/tricky:pull`,
    );
    bearer = `Bearer ${((await answer.json()) as { token: string }).token}`;
  });
  afterAll(async () => {
    await front?.close();
    await registry?.close();
    await tokens?.close();
  });

  const redirect = async () => {
    const res = await fetch(front.url + blobPath(), {
      headers: { authorization: bearer },
      redirect: 'manual',
    });
    expect(res.status).toBe(307);
    await res.arrayBuffer();
    return res.headers.get('location')!;
  };

  it('passes the registry challenge through unchanged', async () => {
    const res = await fetch(front.url + blobPath());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(tokens.challenge('repository:public/tricky:pull'));
  });

  it('redirects blob GETs to another origin that serves single ranges without credentials', async () => {
    const location = new URL(await redirect());
    expect(location.hostname).toBe('localhost');
    expect(location.host).toBe(front.blobOrigin.host);
    expect(location.host).not.toBe(front.host);
    const res = await fetch(location, { headers: { range: 'bytes=100-1099' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${layer.size}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(blob.subarray(100, 1100))).toBe(true);
    const tail = await fetch(location, { headers: { range: 'bytes=-51' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(blob.subarray(blob.length - 51))).toBe(true);
    const whole = await fetch(location);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(blob)).toBe(true);
    expect((await fetch(location, { headers: { range: 'bytes=0-1,5-6' } })).status).toBe(400);
    expect(front.blobOrigin.violations).toEqual([]);
  });

  it('answers 400 and records a violation when Authorization reaches the blob origin', async () => {
    const location = await redirect();
    const res = await fetch(location, { headers: { authorization: bearer, range: 'bytes=0-9' } });
    expect(res.status).toBe(400);
    await res.arrayBuffer();
    expect(front.blobOrigin.violations).toHaveLength(1);
    expect(front.blobOrigin.violations[0]).toMatchObject({
      authorization: true,
      range: 'bytes=0-9',
      status: 400,
    });
  });

  it('signed URLs answer 403 once expired or tampered with; a new redirect works', async () => {
    const location = await redirect();
    front.expireSignedUrls();
    expect((await fetch(location, { headers: { range: 'bytes=0-9' } })).status).toBe(403);
    const tampered = new URL(await redirect());
    tampered.searchParams.set('X-Expires', String(Date.now() + 10 ** 9));
    expect((await fetch(tampered)).status).toBe(403);
    const fresh = await fetch(await redirect(), { headers: { range: 'bytes=0-9' } });
    expect(fresh.status).toBe(206);
    expect(Buffer.from(await fresh.arrayBuffer()).equals(blob.subarray(0, 10))).toBe(true);
  });

  it('does not redirect a blob the client may not read, and proxies manifests', async () => {
    const denied = await fetch(front.url + blobPath(), { headers: { authorization: 'Bearer nonsense' } });
    expect(denied.status).toBe(401);
    const manifest = await fetch(`${front.url}/v2/public/tricky/manifests/v1`, {
      headers: { authorization: bearer, accept: MediaTypes.ociManifest },
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(
      (await openLayout(TRICKY)).tagged('v1').digest,
    );
    await manifest.arrayBuffer();
    expect(front.requests.some((r) => r.fault === 'redirect' && r.authorization)).toBe(true);
  });

  it('without signedUrlTtlMs the blob URL carries no query', async () => {
    const plain = await startRedirectFront(registry, { redirectStatus: 302 });
    try {
      const res = await fetch(plain.url + blobPath(), {
        headers: { authorization: bearer },
        redirect: 'manual',
      });
      expect(res.status).toBe(302);
      expect(new URL(res.headers.get('location')!).search).toBe('');
      // fetch drops Authorization on a cross-origin redirect, so following it is clean
      const before = plain.blobOrigin.requests.length;
      const followed = await fetch(plain.url + blobPath(), { headers: { authorization: bearer } });
      expect(followed.status).toBe(200);
      expect((await bytes(followed)).equals(blob)).toBe(true);
      expect(plain.blobOrigin.requests.slice(before).map((r) => r.authorization)).toEqual([false]);
      expect(plain.blobOrigin.violations).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});

describe('startFaultFront', () => {
  let registry: RegistryServer;
  let front: FaultFront;
  let layer: OciDescriptor;
  let blob: Buffer;
  const blobUrl = () => `${front.url}/v2/fixtures/tricky/blobs/${layer.digest}`;
  const get = (range?: string) => fetch(blobUrl(), { headers: range ? { range } : {} });

  beforeAll(async () => {
    registry = await startRegistry();
    front = await startFaultFront(registry);
    ({ layer, blob } = await firstLayer());
    await pushLayout(front.url, TRICKY, 'fixtures/tricky', 'v1');
  });
  afterAll(async () => {
    await front?.close();
    await registry?.close();
  });

  it('passes pushes through, rewriting upstream Locations to the front', async () => {
    const res = await fetch(`${front.url}/v2/fixtures/other/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(new URL(res.headers.get('location')!).host).toBe(front.host);
    const ranged = await get('bytes=10-19');
    expect(ranged.status).toBe(206);
    expect((await bytes(ranged)).equals(blob.subarray(10, 20))).toBe(true);
  });

  it('503 then 429 with Retry-After, only for the first N matching requests', async () => {
    const date = new Date(Date.now() + 5000);
    front.setRules([
      { match: { blobs: true }, times: 1, action: { type: 'status', status: 503, retryAfter: 2 } },
      { match: { blobs: true }, times: 1, action: { type: 'status', status: 429, retryAfter: date } },
    ]);
    const first = await get('bytes=0-9');
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('2');
    const second = await get('bytes=0-9');
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe(date.toUTCString());
    const third = await get('bytes=0-9');
    expect(third.status).toBe(206);
    expect((await bytes(third)).equals(blob.subarray(0, 10))).toBe(true);
    expect([front.hits(0), front.hits(1)]).toEqual([1, 1]);
    expect(front.requests.slice(-3).map((r) => [r.status, r.fault])).toEqual([
      [503, 'status'],
      [429, 'status'],
      [206, undefined],
    ]);
  });

  it('resets the connection mid-body', async () => {
    front.setRules([{ match: { blobs: true }, times: 1, action: { type: 'reset', afterBytes: 1000 } }]);
    const res = await get('bytes=0-99999');
    expect(res.status).toBe(206);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(front.requests.at(-1)?.fault).toBe('reset');
  });

  it('truncates the body under a full Content-Length', async () => {
    front.setRules([{ match: { blobs: true }, times: 1, action: { type: 'truncate', afterBytes: 500 } }]);
    const res = await get('bytes=0-9999');
    expect(res.headers.get('content-length')).toBe('10000');
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('ignores Range: 200 with the whole blob', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'ignore-range' } }]);
    const res = await get('bytes=0-9');
    expect(res.status).toBe(200);
    expect((await bytes(res)).equals(blob)).toBe(true);
  });

  it('refuses multi-range with 400 but lets single ranges pass', async () => {
    front.setRules([{ action: { type: 'refuse-multirange' } }]);
    expect((await get('bytes=0-9,20-29')).status).toBe(400);
    const single = await get('bytes=0-9');
    expect(single.status).toBe(206);
    await single.arrayBuffer();
    expect(front.hits(0)).toBe(1);
  });

  it('answers multi-range with the whole object', async () => {
    front.setRules([{ action: { type: 'whole-on-multirange' } }]);
    const res = await get('bytes=0-9,20-29');
    expect(res.status).toBe(200);
    expect((await bytes(res)).equals(blob)).toBe(true);
  });

  it('delays and trickles the response, with the bytes intact', async () => {
    front.setRules([
      { match: { blobs: true }, action: { type: 'delay', ms: 50, chunkSize: 1000, intervalMs: 5 } },
    ]);
    const res = await get('bytes=0-4999');
    expect((await bytes(res)).equals(blob.subarray(0, 5000))).toBe(true);
    expect(front.requests.at(-1)?.fault).toBe('delay');
  });

  it('corrupts one byte at a blob offset inside the answered range only', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'corrupt', blobOffset: 1234 } }]);
    const inside = await bytes(await get('bytes=1000-1999'));
    const expected = Buffer.from(blob.subarray(1000, 2000));
    expect(inside.equals(expected)).toBe(false);
    expected[234]! ^= 0xff;
    expect(inside.equals(expected)).toBe(true);
    const outside = await bytes(await get('bytes=0-999'));
    expect(outside.equals(blob.subarray(0, 1000))).toBe(true);
  });

  it('sends a wrong Content-Range', async () => {
    front.setRules([{ match: { blobs: true }, times: 2, action: { type: 'wrong-content-range' } }]);
    const shifted = await get('bytes=0-9');
    expect(shifted.headers.get('content-range')).toBe(`bytes 1-10/${layer.size}`);
    await shifted.arrayBuffer();
    front.setRules([{ action: { type: 'wrong-content-range', contentRange: 'bytes 5-9/10' } }]);
    const given = await get('bytes=0-9');
    expect(given.headers.get('content-range')).toBe('bytes 5-9/10');
    await given.arrayBuffer();
  });

  it('records method, path, range and whether Authorization was present; `when` matchers see the request', async () => {
    front.setRules([
      {
        match: { when: (r) => r.authorization === 'Bearer revoked' },
        action: { type: 'status', status: 401 },
      },
    ]);
    const revoked = await fetch(blobUrl(), {
      headers: { authorization: 'Bearer revoked', range: 'bytes=0-0' },
    });
    expect(revoked.status).toBe(401);
    const fine = await fetch(blobUrl(), { headers: { authorization: 'Bearer other', range: 'bytes=0-0' } });
    expect(fine.status).toBe(206);
    await fine.arrayBuffer();
    expect(front.requests.slice(-2)).toEqual([
      {
        method: 'GET',
        path: new URL(blobUrl()).pathname,
        range: 'bytes=0-0',
        authorization: true,
        status: 401,
        fault: 'status',
      },
      {
        method: 'GET',
        path: new URL(blobUrl()).pathname,
        range: 'bytes=0-0',
        authorization: true,
        status: 206,
      },
    ]);
    expect(JSON.stringify(front.requests)).not.toContain('revoked');
  });
});

describe('fault front with token revocation (token auth)', () => {
  it('answers 401 with the challenge to a revoked token while a fresh one reads on', async () => {
    const tokens = await startTokenServer({ anonymousPull: '*', users: { u: 'p' } });
    const registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    const scope = 'repository:public/tricky:pull';
    const front = await startFaultFront(registry, [
      {
        name: 'revoked',
        match: { when: (r) => tokens.isRevoked(r.authorization) },
        action: { type: 'status', status: 401, headers: { 'www-authenticate': tokens.challenge(scope) } },
      },
    ]);
    try {
      await pushLayout(registry.url, TRICKY, 'public/tricky', 'v1', {
        credentials: { username: 'u', password: 'p' },
      });
      const { layer, blob } = await firstLayer();
      const token = async () => {
        const res = await fetch(`${tokens.realm}?service=${tokens.service}&scope=${scope}`);
        return `Bearer ${((await res.json()) as { token: string }).token}`;
      };
      const read = (authorization: string) =>
        fetch(`${front.url}/v2/public/tricky/blobs/${layer.digest}`, {
          headers: { authorization, range: 'bytes=0-99' },
        });
      const old = await token();
      const before = await read(old);
      expect(before.status).toBe(206);
      expect((await bytes(before)).equals(blob.subarray(0, 100))).toBe(true);
      tokens.revokeIssued();
      const refused = await read(old);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe(tokens.challenge(scope));
      const after = await read(await token());
      expect(after.status).toBe(206);
      await after.arrayBuffer();
      expect(front.requests.map((r) => r.fault)).toEqual([undefined, 'revoked', undefined]);
    } finally {
      await front.close();
      await registry.close();
      await tokens.close();
    }
  });
});
