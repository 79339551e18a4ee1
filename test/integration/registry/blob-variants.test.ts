/**
 * Blob answers seen at real registries and object stores that the main blob suite does not cover: relative
 * redirects, Content-Range with an unknown total, 416, chunked whole answers, keep-alive connections the
 * server closes, foreign layers served from their `urls`.
 */

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { BlobRangeResponse } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import {
  type FakeRegistry,
  parseRange,
  sendBlob,
  sha256,
  startFakeRegistry,
  startServer,
  type TestServer,
} from './fake-registry.js';

async function collect(response: BlobRangeResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of response.body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('RegistryClient blob reads: answers of real servers', () => {
  let registry: FakeRegistry;
  let client: RegistryClient;
  const extra: TestServer[] = [];
  const data = randomBytes(64 * 1024);
  let digest: string;
  const ref = () => parseReference(`${registry.host}/app/variants:v1`);

  beforeAll(async () => {
    registry = await startFakeRegistry();
    digest = registry.putBlob(data);
  });

  beforeEach(() => {
    client = new RegistryClient({ random: () => 0, sleep: async () => {} });
    registry.requests.length = 0;
    registry.controls.intercept = undefined;
  });

  afterEach(async () => {
    await client.close();
    await Promise.all(extra.splice(0).map((server) => server.close()));
  });

  afterAll(async () => {
    await registry.close();
  });

  it('follows a relative Location on the same origin, keeping Range', async () => {
    registry.controls.intercept = (req, res) => {
      if (req.url?.startsWith('/v2/app/variants/blobs/')) {
        res.writeHead(307, { location: `../../../storage/${digest}?sig=abc` }).end();
        return true;
      }
      if (req.url?.startsWith('/v2/storage/')) {
        sendBlob(req, res, data);
        return true;
      }
      return false;
    };
    const response = await client.readRange(ref(), digest, 10, 20);
    expect((await collect(response)).equals(data.subarray(10, 20))).toBe(true);
    expect(registry.requests.at(-1)).toMatchObject({ path: `/v2/storage/${digest}?sig=abc` });
    expect(registry.requests.at(-1)?.headers.range).toBe('bytes=10-19');
  });

  it('accepts a Content-Range whose total is unknown (bytes a-b/*)', async () => {
    registry.controls.intercept = (req, res) => {
      const range = parseRange(req.headers.range, data.length);
      if (!range) return false;
      res.writeHead(206, { 'content-range': `bytes ${range.start}-${range.end - 1}/*` });
      res.end(data.subarray(range.start, range.end));
      return true;
    };
    const response = await client.readRange(ref(), digest, 0, 10);
    expect(response).toMatchObject({ kind: 'partial', start: 0, end: 10 });
    expect(response.totalSize).toBeUndefined();
    expect((await collect(response)).equals(data.subarray(0, 10))).toBe(true);
  });

  it('gives E_PROTOCOL naming the range for a 416', async () => {
    registry.controls.intercept = (_req, res) => {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      return true;
    };
    const error = await failure(client.readRange(ref(), digest, 0, 10));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain('not satisfiable');
  });

  it('reads a chunked 200 without Content-Length as the whole blob sized by the descriptor', async () => {
    registry.controls.intercept = (_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write(data.subarray(0, 1000));
      res.end(data.subarray(1000));
      return true;
    };
    const blob = client.blob(ref(), { mediaType: 'x', digest, size: data.length });
    const tail = await blob.readTail(100);
    expect(tail).toMatchObject({ kind: 'whole', start: 0, end: data.length, totalSize: data.length });
    expect((await collect(tail)).equals(data)).toBe(true);
  });

  it('retries when the server closes a kept-alive connection as the next request arrives', async () => {
    let served = 0;
    const closer = await startServer((req, res) => {
      served++;
      if (served === 2) {
        req.socket.destroy(); // "other side closed" for undici on a reused connection
        return;
      }
      sendBlob(req, res, data);
    });
    extra.push(closer);
    registry.controls.intercept = (_req, res) => {
      res.writeHead(307, { location: `${closer.url}/blob` }).end();
      return true;
    };
    const first = await client.readRange(ref(), digest, 0, 10);
    await collect(first);
    const second = await client.readRange(ref(), digest, 10, 20);
    expect((await collect(second)).equals(data.subarray(10, 20))).toBe(true);
  });

  it('reads a foreign layer from its urls when the registry does not hold it', async () => {
    const foreign = randomBytes(4096);
    const foreignDigest = sha256(foreign);
    const cdn = await startServer((req, res) => {
      if (req.headers.authorization !== undefined) {
        res.writeHead(400).end('no credentials here');
        return;
      }
      sendBlob(req, res, foreign);
    });
    extra.push(cdn);
    const descriptor = {
      mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
      digest: foreignDigest,
      size: foreign.length,
      urls: ['ftp://example.invalid/x', `${cdn.url}/layers/${foreignDigest}`],
    };
    const blob = client.blob(ref(), descriptor);
    const tail = await blob.readTail(100);
    expect((await collect(tail)).equals(foreign.subarray(foreign.length - 100))).toBe(true);
    expect(cdn.requests.at(-1)?.headers.range).toBe(`bytes=${foreign.length - 100}-${foreign.length - 1}`);
    // a layer with no urls the registry does not hold stays E_NOT_FOUND
    const missing = client.blob(ref(), { ...descriptor, urls: undefined, digest: sha256('gone') });
    expect((await failure(missing.readTail(10))).code).toBe('E_NOT_FOUND');
  });
});
