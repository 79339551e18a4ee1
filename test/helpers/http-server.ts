import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A small real HTTP server on a loopback address, as every test server in this folder returns it. */
export interface HttpTestServer {
  /** the node:http server, for tests that need events */
  readonly server: Server;
  /** `http://HOSTNAME:PORT` (no trailing slash) */
  readonly url: string;
  /** `HOSTNAME:PORT` */
  readonly host: string;
  readonly hostname: string;
  readonly port: number;
  /** Stops listening and destroys every open connection (keep-alive ones too). Safe to call twice. */
  close(): Promise<void>;
}

export interface StartHttpServerOptions {
  /** interface to bind, default `127.0.0.1` */
  bindAddress?: string;
  /** name used in `url`/`host` (e.g. `localhost` to get another origin than `127.0.0.1`), default the bind address */
  hostname?: string;
  /** default 0 (a free port) */
  port?: number;
}

/**
 * Starts `handler` on a free loopback port. A handler that throws or rejects gets a 500 answer (or a destroyed
 * socket when headers were already sent) instead of crashing the test process.
 */
export async function startHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  options: StartHttpServerOptions = {},
): Promise<HttpTestServer> {
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  const hostname = options.hostname ?? bindAddress;
  const sockets = new Set<Socket>();
  const listener: RequestListener = (req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`test server error: ${err instanceof Error ? err.message : String(err)}`);
      });
  };
  const server = createServer(listener);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: bindAddress, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${hostname}:${port}`,
    host: `${hostname}:${port}`,
    hostname,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Reads a whole request or response body. */
export async function readBody(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** An upstream answer, fully buffered (test blobs are small). */
export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

/**
 * Sends `req` (method, path, headers, `body`) to `upstreamUrl` and buffers the answer. Hop-by-hop headers are
 * dropped, `Host` is the upstream's; `overrideHeaders` set (or, with `undefined`, remove) request headers.
 */
export async function forwardRequest(
  req: IncomingMessage,
  body: Buffer,
  upstreamUrl: string,
  overrideHeaders: Record<string, string | undefined> = {},
): Promise<UpstreamResponse> {
  const upstream = new URL(upstreamUrl);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  }
  for (const [name, value] of Object.entries(overrideHeaders)) {
    if (value === undefined) delete headers[name.toLowerCase()];
    else headers[name.toLowerCase()] = value;
  }
  headers.host = upstream.host;
  if (body.length > 0 || !['GET', 'HEAD'].includes(req.method ?? 'GET'))
    headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      },
      (incoming) => {
        readBody(incoming).then(
          (data) => resolve({ status: incoming.statusCode ?? 502, headers: incoming.headers, body: data }),
          reject,
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Response headers of an upstream answer, ready to send from a front at `frontUrl`: hop-by-hop headers dropped,
 * and a `Location` that points at the upstream origin rewritten to the front's origin.
 */
export function frontResponseHeaders(
  upstream: UpstreamResponse,
  upstreamUrl: string,
  frontUrl: string,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  }
  const location = upstream.headers.location;
  if (location !== undefined) headers.location = rewriteOrigin(location, upstreamUrl, frontUrl);
  return headers;
}

/** Rewrites an absolute URL on `fromUrl`'s origin to `toUrl`'s origin; any other URL is returned unchanged. */
export function rewriteOrigin(url: string, fromUrl: string, toUrl: string): string {
  const from = new URL(fromUrl).origin;
  if (url === from || url.startsWith(`${from}/`) || url.startsWith(`${from}?`)) {
    return new URL(toUrl).origin + url.slice(from.length);
  }
  return url;
}
