/**
 * An HTTP reverse proxy that makes loopback behave like a real network link: a fixed delay on every
 * request (client → registry) and every response (registry → client), one round trip more for each new
 * connection (the TCP handshake a real link costs), and a bandwidth cap shared by all connections.
 * It counts what crosses it, so a scenario's requests and bytes come from the wire, not from the client.
 */

import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ShapingOptions {
  /** where requests go, `http://127.0.0.1:PORT` */
  upstream: string;
  /** delay before a request is forwarded (default 25 ms) */
  requestDelayMs?: number;
  /** delay before a response starts back (default 25 ms) */
  responseDelayMs?: number;
  /** extra delay on the first request of a connection (default one round trip: request + response delay) */
  connectDelayMs?: number;
  /** cap on response bytes per second over all connections, in bits (default 200 Mbit/s; 0 = no cap) */
  bandwidthBitsPerSecond?: number;
}

export interface RequestRecord {
  connection: number;
  method: string;
  /** path without the query (signed URLs and upload ids are not interesting here) */
  path: string;
  range?: string;
  status: number;
  /** response body bytes */
  bytes: number;
}

export interface ProxyCounters {
  requests: number;
  connections: number;
  /** response body bytes (what the client received, without headers) */
  bodyBytes: number;
  /** response status lines and headers */
  headerBytes: number;
  /** request bodies (uploads) */
  uploadBytes: number;
  /** the most requests any one connection carried */
  maxRequestsPerConnection: number;
  byKind: { manifest: number; blob: number; other: number };
  log: RequestRecord[];
}

export interface ShapingProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`, the registry part of an image reference through the proxy */
  readonly host: string;
  readonly options: Required<Omit<ShapingOptions, 'upstream'>>;
  counters(): ProxyCounters;
  /** zeroes the counters (connections already open keep their ids but count as new for per-connection use) */
  reset(): void;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

/**
 * A link shared by all responses: each chunk takes its turn on the wire at the capped rate. Up to
 * `BURST_MS` of idle time is credited back, so timer lateness does not lower the rate below the cap
 * (the long-run rate never exceeds it).
 */
const BURST_MS = 10;

class Link {
  private freeAt = 0;
  constructor(private readonly bytesPerMs: number) {}

  /** Resolves when `bytes` have crossed the link after everything queued before them. */
  async transmit(bytes: number): Promise<void> {
    if (this.bytesPerMs <= 0) return;
    const now = performance.now();
    const start = Math.max(now - BURST_MS, this.freeAt);
    this.freeAt = start + bytes / this.bytesPerMs;
    await sleep(this.freeAt - now);
  }
}

class Throttle extends Transform {
  constructor(
    private readonly link: Link,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.link.transmit(chunk.length).then(() => {
      this.onBytes(chunk.length);
      callback(null, chunk);
    }, callback);
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

function kindOf(path: string): 'manifest' | 'blob' | 'other' {
  if (/^\/v2\/.+\/manifests\//.test(path)) return 'manifest';
  if (/^\/v2\/.+\/blobs\/sha256:/.test(path)) return 'blob';
  return 'other';
}

const emptyCounters = (): ProxyCounters => ({
  requests: 0,
  connections: 0,
  bodyBytes: 0,
  headerBytes: 0,
  uploadBytes: 0,
  maxRequestsPerConnection: 0,
  byKind: { manifest: 0, blob: 0, other: 0 },
  log: [],
});

/** Starts the proxy on a free loopback port. */
export async function startShapingProxy(options: ShapingOptions): Promise<ShapingProxy> {
  const upstream = new URL(options.upstream);
  const requestDelayMs = options.requestDelayMs ?? 25;
  const responseDelayMs = options.responseDelayMs ?? 25;
  const settings = {
    requestDelayMs,
    responseDelayMs,
    connectDelayMs: options.connectDelayMs ?? requestDelayMs + responseDelayMs,
    bandwidthBitsPerSecond: options.bandwidthBitsPerSecond ?? 200_000_000,
  };
  const link = new Link(settings.bandwidthBitsPerSecond / 8 / 1000);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let counters = emptyCounters();
  let generation = 0;
  let nextConnection = 0;
  const perSocket = new WeakMap<Socket, { id: number; generation: number; requests: number }>();
  const sockets = new Set<Socket>();

  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function connectionOf(socket: Socket): { id: number; first: boolean } {
    let state = perSocket.get(socket);
    const first = state === undefined;
    if (state === undefined) {
      state = { id: nextConnection++, generation, requests: 0 };
      perSocket.set(socket, state);
    }
    if (state.generation !== generation) {
      state.generation = generation;
      state.requests = 0;
    }
    if (state.requests === 0) counters.connections++;
    state.requests++;
    counters.maxRequestsPerConnection = Math.max(counters.maxRequestsPerConnection, state.requests);
    return { id: state.id, first };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const conn = connectionOf(req.socket);
    const mine = counters;
    mine.requests++;
    const path = (req.url ?? '/').split('?')[0]!;
    mine.byKind[kindOf(path)]++;
    const record: RequestRecord = {
      connection: conn.id,
      method: req.method ?? 'GET',
      path,
      status: 0,
      bytes: 0,
    };
    if (typeof req.headers.range === 'string') record.range = req.headers.range;
    mine.log.push(record);

    await sleep(settings.requestDelayMs + (conn.first ? settings.connectDelayMs : 0));
    const headers = { ...req.headers };
    for (const name of HOP_BY_HOP) delete headers[name];
    const upstreamReq = request({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    const responded = new Promise<IncomingMessage>((resolve, reject) => {
      upstreamReq.once('response', resolve);
      upstreamReq.once('error', reject);
    });
    const uploaded = pipeline(
      req,
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          mine.uploadBytes += chunk.length;
          cb(null, chunk);
        },
      }),
      upstreamReq,
    );
    const upstreamRes = await responded;
    await sleep(settings.responseDelayMs);
    const outHeaders: Record<string, string | string[]> = {};
    let headerBytes = 17;
    for (const [name, value] of Object.entries(upstreamRes.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      outHeaders[name] = value;
      headerBytes += name.length + String(value).length + 4;
    }
    record.status = upstreamRes.statusCode ?? 502;
    mine.headerBytes += headerBytes;
    res.writeHead(record.status, outHeaders);
    await pipeline(
      upstreamRes,
      new Throttle(link, (n) => {
        mine.bodyBytes += n;
        record.bytes += n;
      }),
      res,
    );
    await uploaded.catch(() => {});
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    options: settings,
    counters: () => ({ ...counters, byKind: { ...counters.byKind }, log: [...counters.log] }),
    reset() {
      counters = emptyCounters();
      generation++;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
