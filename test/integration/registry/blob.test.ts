import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { BlobRangeResponse } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import {
  type BlobStore,
  type FakeRegistry,
  type FakeTokenServer,
  parseRange,
  startBlobStore,
  startFakeRegistry,
  startTokenServer,
} from './fake-registry.js';

async function collect(response: BlobRangeResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of response.body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('RegistryClient blob reads', () => {
  let registry: FakeRegistry;
  let store: BlobStore;
  let tokens: FakeTokenServer;
  let client: RegistryClient;
  let waits: number[];
  const data = randomBytes(256 * 1024);
  let digest: string;
  const repo = 'app/blobs';
  const ref = () => parseReference(`${registry.host}/${repo}:v1`);
  const blobRequests = () => registry.requests.filter((r) => r.path.includes('/blobs/'));

  beforeAll(async () => {
    registry = await startFakeRegistry();
    store = await startBlobStore(registry.blobs);
    tokens = await startTokenServer();
    digest = registry.putBlob(data);
  });

  beforeEach(() => {
    waits = [];
    client = new RegistryClient({
      random: () => 0,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    registry.requests.length = 0;
    store.requests.length = 0;
    registry.controls.intercept = undefined;
    registry.controls.blobLocation = undefined;
    registry.controls.auth = { kind: 'none' };
    store.intercept = undefined;
  });

  afterEach(async () => {
    await client.close();
  });

  afterAll(async () => {
    await Promise.all([registry.close(), store.close(), tokens.close()]);
  });

  it('reads exactly the range asked', async () => {
    const response = await client.readRange(ref(), digest, 1000, 5000);
    expect(response).toMatchObject({ kind: 'partial', start: 1000, end: 5000, totalSize: data.length });
    expect((await collect(response)).equals(data.subarray(1000, 5000))).toBe(true);
    expect(registry.requests.at(-1)?.headers.range).toBe('bytes=1000-4999');
  });

  it('reads a tail from the descriptor size and an empty range without a request', async () => {
    const blob = client.blob(ref(), { mediaType: 'x', digest, size: data.length });
    const tail = await blob.readTail(51);
    expect(tail.start).toBe(data.length - 51);
    expect((await collect(tail)).equals(data.subarray(data.length - 51))).toBe(true);
    expect(registry.requests.at(-1)?.headers.range).toBe(`bytes=${data.length - 51}-${data.length - 1}`);
    const before = registry.requests.length;
    expect((await collect(await blob.readRange(7, 7))).length).toBe(0);
    expect(registry.requests.length).toBe(before);
  });

  it('refuses a 206 whose Content-Range is not the range asked', async () => {
    registry.controls.intercept = (_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-99/${data.length}` }).end(data.subarray(0, 100));
      return true;
    };
    const error = await failure(client.readRange(ref(), digest, 100, 200));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain('bytes 100-199');
    expect(error.message).toContain('bytes 0-99/');
  });

  it('refuses a 206 without Content-Range', async () => {
    registry.controls.intercept = (_req, res) => {
      res.writeHead(206).end(data.subarray(100, 200));
      return true;
    };
    expect((await failure(client.readRange(ref(), digest, 100, 200))).code).toBe('E_PROTOCOL');
  });

  it('reports a 200 to a range request as the whole blob and remembers the host ignores Range', async () => {
    registry.controls.intercept = (_req, res) => {
      res.writeHead(200, { 'content-length': data.length }).end(data);
      return true;
    };
    expect(client.ignoresRange(registry.host)).toBe(false);
    const response = await client.readRange(ref(), digest, 100, 200);
    expect(response).toMatchObject({ kind: 'whole', start: 0, end: data.length, totalSize: data.length });
    expect((await collect(response)).equals(data)).toBe(true);
    expect(client.ignoresRange(registry.host)).toBe(true);
  });

  it('resumes a truncated body from the bytes already received', async () => {
    let calls = 0;
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      calls++;
      const range = parseRange(req.headers.range, data.length);
      if (!range) return false;
      res.writeHead(206, {
        'content-length': range.end - range.start,
        'content-range': `bytes ${range.start}-${range.end - 1}/${data.length}`,
      });
      if (calls === 1) {
        res.write(data.subarray(range.start, range.start + 10_000));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.end(data.subarray(range.start, range.end));
      }
      return true;
    };
    const response = await client.readRange(ref(), digest, 0, 100_000);
    expect((await collect(response)).equals(data.subarray(0, 100_000))).toBe(true);
    const ranges = blobRequests().map((r) => r.headers.range);
    expect(ranges[0]).toBe('bytes=0-99999');
    expect(ranges[1]).toMatch(/^bytes=(\d+)-99999$/);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(ranges[1] ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(10_000);
    expect(waits).toEqual([200]);
  });

  it('resumes a body cut short with a clean end (fewer bytes than the range)', async () => {
    let calls = 0;
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      calls++;
      const range = parseRange(req.headers.range, data.length);
      if (!range) return false;
      const end = calls === 1 ? range.start + 500 : range.end;
      // chunked, so the short answer ends cleanly: only the byte count tells
      res.writeHead(206, { 'content-range': `bytes ${range.start}-${range.end - 1}/${data.length}` });
      res.end(data.subarray(range.start, end));
      return true;
    };
    const response = await client.readRange(ref(), digest, 10, 3010);
    expect((await collect(response)).equals(data.subarray(10, 3010))).toBe(true);
    expect(blobRequests().map((r) => r.headers.range)).toEqual(['bytes=10-3009', 'bytes=510-3009']);
  });

  it('skips the prefix when a resumed read is answered with the whole blob', async () => {
    let calls = 0;
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      calls++;
      res.writeHead(200, { 'content-length': data.length });
      if (calls === 1) {
        res.write(data.subarray(0, 70_000));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.end(data);
      }
      return true;
    };
    const response = await client.readRange(ref(), digest, 0, 10);
    expect(response.kind).toBe('whole');
    expect((await collect(response)).equals(data)).toBe(true);
  });

  it('gives up with E_NETWORK naming the position when the body keeps breaking', async () => {
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      const range = parseRange(req.headers.range, data.length);
      if (!range) return false;
      res.writeHead(206, {
        'content-length': range.end - range.start,
        'content-range': `bytes ${range.start}-${range.end - 1}/${data.length}`,
      });
      res.write(data.subarray(range.start, range.start + 100));
      setTimeout(() => res.destroy(), 20);
      return true;
    };
    const response = await client.readRange(ref(), digest, 0, 50_000);
    const error = await failure(collect(response));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toMatch(/broke off at byte \d+ after 4 attempt/);
    expect(waits).toEqual([200, 400, 800]);
  });

  it('maps BLOB_UNKNOWN to E_NOT_FOUND and refuses bad digests', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const error = await failure(client.readRange(ref(), missing, 0, 10));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain(`blob ${missing} of ${registry.host}/${repo}`);
    expect((await failure(client.readRange(ref(), 'sha256:xyz', 0, 10))).code).toBe('E_USAGE');
  });

  describe('redirected to a blob store on another origin', () => {
    beforeEach(() => {
      registry.controls.blobLocation = (target) => store.locationOf(target);
    });

    it('follows the redirect with Range and without Authorization, then reuses the location', async () => {
      registry.controls.auth = { kind: 'basic', username: 'u', password: 'p' };
      client = new RegistryClient({
        credentials: { get: async () => ({ kind: 'basic', username: 'u', password: 'p' }) },
      });
      const first = await client.readRange(ref(), digest, 0, 1000);
      expect((await collect(first)).equals(data.subarray(0, 1000))).toBe(true);
      const second = await client.readRange(ref(), digest, 2000, 3000);
      expect((await collect(second)).equals(data.subarray(2000, 3000))).toBe(true);
      expect(store.requests.map((r) => [r.headers.range, r.headers.authorization])).toEqual([
        ['bytes=0-999', undefined],
        ['bytes=2000-2999', undefined],
      ]);
      expect(blobRequests().filter((r) => r.headers.authorization !== undefined)).toHaveLength(1);
      expect(blobRequests()).toHaveLength(2); // 401, then the authorized request that redirected
    });

    it('drops the token on the way to the blob store with Bearer auth too', async () => {
      registry.controls.auth = {
        kind: 'bearer',
        realm: `${tokens.url}/token`,
        service: 'svc',
        accepts: (token) => tokens.issued.has(token),
      };
      const response = await client.readRange(ref(), digest, 0, 10);
      expect((await collect(response)).equals(data.subarray(0, 10))).toBe(true);
      expect(store.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
      expect(store.requests).toHaveLength(1);
    });

    it('resolves the blob URL again when the remembered signed URL expired (403)', async () => {
      await collect(await client.readRange(ref(), digest, 0, 10));
      store.expireSignatures();
      const response = await client.readRange(ref(), digest, 10, 20);
      expect((await collect(response)).equals(data.subarray(10, 20))).toBe(true);
      expect(store.requests.map((r) => r.headers.range)).toEqual(['bytes=0-9', 'bytes=10-19', 'bytes=10-19']);
      expect(blobRequests()).toHaveLength(2);
    });

    it('resolves once more when a fresh redirect answers 403, then gives E_AUTH', async () => {
      let refusals = 0;
      store.intercept = (_req, res) => {
        if (refusals >= 1) return false;
        refusals++;
        res
          .writeHead(403)
          .end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        return true;
      };
      const response = await client.readRange(ref(), digest, 0, 10);
      expect((await collect(response)).equals(data.subarray(0, 10))).toBe(true);
      expect(blobRequests()).toHaveLength(2);

      store.intercept = (_req, res) => {
        res.writeHead(403).end();
        return true;
      };
      const fresh = new RegistryClient();
      try {
        const error = await failure(fresh.readRange(ref(), digest, 0, 10));
        expect(error.code).toBe('E_AUTH');
      } finally {
        await fresh.close();
      }
    });

    it('resumes a truncated body at the blob store', async () => {
      let calls = 0;
      store.intercept = (req, res) => {
        calls++;
        if (calls > 1) return false;
        const range = parseRange(req.headers.range, data.length);
        if (!range) return false;
        res.writeHead(206, {
          'content-length': range.end - range.start,
          'content-range': `bytes ${range.start}-${range.end - 1}/${data.length}`,
        });
        res.write(data.subarray(range.start, range.start + 4096));
        setTimeout(() => res.destroy(), 20);
        return true;
      };
      const response = await client.readRange(ref(), digest, 0, 200_000);
      expect((await collect(response)).equals(data.subarray(0, 200_000))).toBe(true);
      expect(store.requests.length).toBe(2);
    });
  });

  it('counts bytes received', async () => {
    await collect(await client.readRange(ref(), digest, 0, 4096));
    expect(client.stats().bytesReceived).toBe(4096);
  });
});
