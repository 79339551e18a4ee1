import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/log.js';
import { Transport, type TransportOptions } from '../../../src/registry/transport.js';
import { failure } from '../../helpers/failure.js';
import { startServer, type TestServer } from './fake-registry.js';

interface Harness {
  transport: Transport;
  waits: number[];
  logs: { message: string; fields?: Record<string, unknown> }[];
}

const open: Transport[] = [];
const servers: TestServer[] = [];

function makeTransport(options: TransportOptions = {}): Harness {
  const waits: number[] = [];
  const logs: Harness['logs'] = [];
  const record = (message: string, fields?: Record<string, unknown>) => logs.push({ message, fields });
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  const transport = new Transport({
    random: () => 0,
    sleep: async (ms) => {
      waits.push(ms);
    },
    logger,
    ...options,
  });
  open.push(transport);
  return { transport, waits, logs };
}

async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(handler);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((transport) => transport.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('Transport retries', () => {
  it('honours Retry-After in seconds on 503, then succeeds', async () => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls === 1) res.writeHead(503, { 'retry-after': '2' }).end('busy');
      else res.writeHead(200).end('ok');
    });
    const { transport, waits } = makeTransport();
    const response = await transport.request({ method: 'GET', url: `${server.url}/x` });
    expect(response.status).toBe(200);
    expect((await response.bytes(100)).toString()).toBe('ok');
    expect(waits).toEqual([2000]);
    expect(transport.stats()).toMatchObject({ requests: 2, retries: 1 });
  });

  it('honours Retry-After as an HTTP date on 429', async () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      if (calls === 1) res.writeHead(429, { 'retry-after': 'Sun, 01 Jun 2025 12:00:07 GMT' }).end();
      else res.writeHead(200).end('ok');
    });
    const { transport, waits } = makeTransport({ now: () => now });
    const response = await transport.request({ method: 'GET', url: `${server.url}/x` });
    await response.dump();
    expect(response.status).toBe(200);
    expect(waits).toEqual([7000]);
  });

  it('backs off exponentially and names the last status when 5xx persists', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(502).end('bad gateway');
    });
    const { transport, waits } = makeTransport();
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/v2/x?token=secret` }));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain('HTTP 502');
    expect(error.message).toContain('after 4 attempt(s)');
    expect(error.message).not.toContain('secret');
    expect(waits).toEqual([200, 400, 800]);
    expect(server.requests).toHaveLength(4);
  });

  it('uses the configured retry policy and caps the backoff', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(500).end();
    });
    const { transport, waits } = makeTransport({
      retry: { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 3000 },
      random: () => 0.5,
    });
    await failure(transport.request({ method: 'GET', url: `${server.url}/x` }));
    expect(waits).toEqual([1500, 3000, 3000, 3000, 3000]);
  });

  it('gives E_RATE_LIMITED with the registry message when 429 persists', async () => {
    const server = await serve((_req, res) => {
      res
        .writeHead(429, { 'content-type': 'application/json', 'ratelimit-remaining': '0;w=21600' })
        .end('{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}');
    });
    const { transport, waits, logs } = makeTransport({ retry: { maxRetries: 2 } });
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/x` }));
    expect(error.code).toBe('E_RATE_LIMITED');
    expect(error.message).toContain('You have reached your pull rate limit.');
    expect(waits).toHaveLength(2);
    expect(logs.some((log) => log.fields?.['ratelimit-remaining'] === '0;w=21600')).toBe(true);
  });

  it('does not wait for a Retry-After beyond the cap and says how long the registry asked', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': '3600' }).end();
    });
    const { transport, waits } = makeTransport();
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/x` }));
    expect(error.code).toBe('E_RATE_LIMITED');
    expect(error.message).toContain('wait 3600 s');
    expect(waits).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry 501 or 4xx', async () => {
    const server = await serve((req, res) => {
      res.writeHead(req.url === '/501' ? 501 : 404).end();
    });
    const { transport, waits } = makeTransport();
    for (const path of ['/501', '/404']) {
      const response = await transport.request({ method: 'GET', url: `${server.url}${path}` });
      await response.dump();
    }
    expect(server.requests).toHaveLength(2);
    expect(waits).toEqual([]);
  });

  it('retries a connection reset before the response', async () => {
    let calls = 0;
    const server = await serve((req, res) => {
      calls++;
      if (calls === 1) req.socket.destroy();
      else res.writeHead(200).end('ok');
    });
    const { transport, waits, logs } = makeTransport();
    const response = await transport.request({ method: 'GET', url: `${server.url}/x` });
    expect((await response.bytes(10)).toString()).toBe('ok');
    expect(waits).toEqual([200]);
    expect(
      logs.some((log) => log.message.startsWith('retry GET') && typeof log.fields?.reason === 'string'),
    ).toBe(true);
  });

  it('names the cause when a connection is refused every time', async () => {
    const server = await serve((_req, res) => {
      res.end();
    });
    const url = `${server.url}/x`;
    await server.close();
    const { transport, waits } = makeTransport({ retry: { maxRetries: 2 } });
    const error = await failure(transport.request({ method: 'GET', url }));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('after 3 attempt(s)');
    expect(waits).toEqual([200, 400]);
  });

  it('times out a server that never answers', async () => {
    const server = await serve(() => {
      // never answers
    });
    const { transport } = makeTransport({ timeoutMs: 150, retry: { maxRetries: 1 } });
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/x` }));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toMatch(/timeout/i);
    expect(server.requests).toHaveLength(2);
  });

  it('re-requests a body that breaks off when reading it whole', async () => {
    let calls = 0;
    const server = await serve((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-length': 10 });
      if (calls === 1) {
        res.write('01234');
        setTimeout(() => res.destroy(), 20);
      } else {
        res.end('0123456789');
      }
    });
    const { transport, waits } = makeTransport();
    const { bytes } = await transport.requestBytes(
      { method: 'GET', url: `${server.url}/x` },
      100,
      'test body',
    );
    expect(bytes.toString()).toBe('0123456789');
    expect(waits).toEqual([200]);
  });

  it('stops at once when aborted', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503).end();
    });
    const controller = new AbortController();
    const transport = new Transport({
      sleep: async () => {
        controller.abort();
        throw new Error('aborted');
      },
    });
    open.push(transport);
    const error = await failure(
      transport.request({ method: 'GET', url: `${server.url}/x`, signal: controller.signal }),
    );
    expect(error.code).toBe('E_ABORTED');
  });
});

describe('Transport redirects', () => {
  it('keeps Range and Authorization on the same origin, drops Authorization on another', async () => {
    const other = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-1/10' }).end('ok');
    });
    const first = await serve((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/same' }).end();
      else res.writeHead(307, { location: `${other.url}/blob?X-Amz-Signature=abc` }).end();
    });
    const { transport, logs } = makeTransport();
    const response = await transport.request({
      method: 'GET',
      url: `${first.url}/start`,
      headers: { range: 'bytes=0-1' },
      authorization: 'Bearer top-secret',
    });
    expect(response.status).toBe(206);
    expect(response.redirects).toBe(2);
    expect(response.originChanged).toBe(true);
    expect(response.url.origin).toBe(other.url);
    await response.dump();
    expect(first.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer top-secret',
      'Bearer top-secret',
    ]);
    expect(first.requests.map((r) => r.headers.range)).toEqual(['bytes=0-1', 'bytes=0-1']);
    expect(other.requests[0]?.headers.authorization).toBeUndefined();
    expect(other.requests[0]?.headers.range).toBe('bytes=0-1');
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain('top-secret');
    expect(logged).not.toContain('X-Amz-Signature');
    expect(transport.stats().redirects).toBe(2);
  });

  it('never sends Authorization back after leaving the origin', async () => {
    let firstUrl = '';
    const other = await serve((_req, res) => {
      res.writeHead(302, { location: `${firstUrl}/final` }).end();
    });
    const first = await serve((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: `${other.url}/bounce` }).end();
      else res.writeHead(200).end('ok');
    });
    firstUrl = first.url;
    const { transport } = makeTransport();
    const response = await transport.request({
      method: 'GET',
      url: `${first.url}/start`,
      authorization: 'Basic eDp5',
    });
    await response.dump();
    expect(first.requests.map((r) => r.headers.authorization)).toEqual(['Basic eDp5', undefined]);
  });

  it('follows at most 5 redirects', async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(301, { location: `/${n + 1}` }).end();
    });
    const { transport } = makeTransport();
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/0` }));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain('more than 5 redirects');
    expect(server.requests).toHaveLength(6);

    const ok = await serve((req, res) => {
      const n = Number(req.url?.slice(1));
      if (n < 5) res.writeHead(308, { location: `/${n + 1}` }).end();
      else res.writeHead(200).end('done');
    });
    const response = await transport.request({ method: 'GET', url: `${ok.url}/0` });
    expect((await response.bytes(10)).toString()).toBe('done');
    expect(response.redirects).toBe(5);
  });

  it('refuses redirects to other schemes', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    });
    const { transport } = makeTransport();
    const error = await failure(transport.request({ method: 'GET', url: `${server.url}/x` }));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain('file:');
  });

  it('turns a POST into a GET on 303', async () => {
    const server = await serve((req, res) => {
      if (req.method === 'POST') res.writeHead(303, { location: '/result' }).end();
      else res.writeHead(200).end(req.method);
    });
    const { transport } = makeTransport();
    const response = await transport.request({ method: 'POST', url: `${server.url}/form`, body: 'a=b' });
    expect((await response.bytes(10)).toString()).toBe('GET');
  });
});

describe('Transport over TLS', () => {
  let dir: string;
  let httpsServer: HttpsServer;
  let httpsUrl: string;
  let plain: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'starget-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]),
      { stdio: 'ignore' },
    );
    plain = await startServer((_req, res) => {
      res.writeHead(200).end('plain');
    });
    httpsServer = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (req, res) => {
        if (req.url === '/downgrade') res.writeHead(302, { location: `${plain.url}/x` }).end();
        else res.writeHead(200).end('secure');
      },
    );
    await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
    httpsUrl = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    httpsServer.closeAllConnections();
    await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies certificates unless insecure, and does not retry a certificate error', async () => {
    const strict = makeTransport();
    const error = await failure(strict.transport.request({ method: 'GET', url: `${httpsUrl}/x` }));
    expect(error.code).toBe('E_NETWORK');
    expect(error.message).toContain('after 1 attempt(s)');
    expect(strict.waits).toEqual([]);

    const { transport } = makeTransport({ insecure: true });
    const response = await transport.request({ method: 'GET', url: `${httpsUrl}/x` });
    expect((await response.bytes(10)).toString()).toBe('secure');
  });

  it('refuses an https → http redirect unless plain HTTP is allowed', async () => {
    const { transport } = makeTransport({ insecure: true });
    const error = await failure(transport.request({ method: 'GET', url: `${httpsUrl}/downgrade` }));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toMatch(/from https to plain http/);

    const allowed = makeTransport({ insecure: true, plainHttp: true });
    const response = await allowed.transport.request({ method: 'GET', url: `${httpsUrl}/downgrade` });
    expect((await response.bytes(10)).toString()).toBe('plain');
  });
});

describe('Transport basics', () => {
  it('chooses http for loopback registries and plainHttp, https otherwise', () => {
    const auto = makeTransport().transport;
    expect(auto.registryBaseUrl('localhost:5000').href).toBe('http://localhost:5000/');
    expect(auto.registryBaseUrl('127.0.0.1:5000').href).toBe('http://127.0.0.1:5000/');
    expect(auto.registryBaseUrl('ghcr.io').href).toBe('https://ghcr.io/');
    expect(auto.registryBaseUrl('docker.io').href).toBe('https://registry-1.docker.io/');
    expect(makeTransport({ plainHttp: true }).transport.registryBaseUrl('my.host:80').href).toBe(
      'http://my.host/',
    );
    expect(makeTransport({ plainHttp: false }).transport.registryBaseUrl('localhost:5000').href).toBe(
      'https://localhost:5000/',
    );
  });

  it('reuses pooled connections and counts requests and bytes', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 5 }).end('hello');
    });
    const { transport, logs } = makeTransport({ userAgent: 'starget-test/1' });
    for (let i = 0; i < 3; i++) {
      const response = await transport.request({ method: 'GET', url: `${server.url}/x?sig=hidden` });
      await response.bytes(10);
      await new Promise((resolve) => setImmediate(resolve)); // let the pool see the connection free
    }
    expect(transport.stats()).toMatchObject({ requests: 3, bytesReceived: 15, connectionsOpened: 1 });
    expect(server.requests[0]?.headers['user-agent']).toBe('starget-test/1');
    const lines = logs.map((log) => log.message);
    expect(lines.some((line) => line.includes(`GET ${server.url}/x 200`))).toBe(true);
    expect(lines.some((line) => line.includes('5 bytes'))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain('hidden');
  });
});
