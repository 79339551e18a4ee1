/**
 * Small scriptable registry, token server and blob store on 127.0.0.1 for the registry client's integration
 * tests: real node:http servers speaking the distribution API, with switches for the behaviours real
 * registries show (auth schemes, redirects to another origin, faults, Range quirks).
 */

import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Starts a server on a free 127.0.0.1 port that records every request before handing it to `handler`. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers });
    Promise.resolve(handler(req, res)).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Parses `bytes=a-b` / `bytes=a-` against a size; undefined for anything else. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  const match = header === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(header);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] === '' ? size : Math.min(size, Number(match[2]) + 1);
  return start < end ? { start, end } : undefined;
}

/** Answers a blob GET honouring a single Range. */
export function sendBlob(req: IncomingMessage, res: ServerResponse, data: Buffer): void {
  const range = parseRange(req.headers.range, data.length);
  if (range === undefined) {
    res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : data);
    return;
  }
  res.writeHead(206, {
    'content-length': range.end - range.start,
    'content-range': `bytes ${range.start}-${range.end - 1}/${data.length}`,
  });
  res.end(req.method === 'HEAD' ? undefined : data.subarray(range.start, range.end));
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers = {},
): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

export type AuthMode =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | {
      kind: 'bearer';
      realm: string;
      service: string;
      accepts: (token: string, repository: string) => boolean;
    };

/** A manifest stored in the fake registry, served with its own media type. */
interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

/**
 * Hooks a test sets to change what the registry answers. `intercept` runs first and may answer by itself
 * (returning true); `blobLocation` turns blob GETs into 307 redirects.
 */
export interface FakeRegistryControls {
  auth: AuthMode;
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  blobLocation?: (digest: string) => string;
  /** serve manifests without Docker-Content-Digest */
  omitDigestHeader?: boolean;
}

export interface FakeRegistry extends TestServer {
  controls: FakeRegistryControls;
  manifests: Map<string, StoredManifest>;
  blobs: Map<string, Buffer>;
  /** stores a manifest under `repo:tag` and `repo@digest`; returns the digest */
  putManifest(repository: string, tag: string | undefined, value: unknown, mediaType: string): string;
  /** stores a blob; returns its digest */
  putBlob(data: Buffer): string;
}

function authorized(req: IncomingMessage, controls: FakeRegistryControls, repository: string): boolean {
  const auth = controls.auth;
  const header = req.headers.authorization;
  if (auth.kind === 'none') return true;
  if (auth.kind === 'basic') {
    const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    return header === expected;
  }
  return header?.startsWith('Bearer ') === true && auth.accepts(header.slice(7), repository);
}

function challenge(controls: FakeRegistryControls, repository: string): string {
  const auth = controls.auth;
  if (auth.kind === 'basic') return 'Basic realm="fake registry"';
  if (auth.kind === 'bearer') {
    return `Bearer realm="${auth.realm}",service="${auth.service}",scope="repository:${repository}:pull"`;
  }
  return '';
}

/** Starts the fake registry (no auth until a test sets `controls.auth`). */
export async function startFakeRegistry(): Promise<FakeRegistry> {
  const controls: FakeRegistryControls = { auth: { kind: 'none' } };
  const manifests = new Map<string, StoredManifest>();
  const blobs = new Map<string, Buffer>();
  const server = await startServer(async (req, res) => {
    if (controls.intercept && (await controls.intercept(req, res))) return;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    const match = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!match) {
      sendError(res, 404, 'NOT_FOUND', 'no such route');
      return;
    }
    const [, repository, kind, target] = match as unknown as [string, string, string, string];
    if (!authorized(req, controls, repository)) {
      sendError(res, 401, 'UNAUTHORIZED', 'authentication required', {
        'www-authenticate': challenge(controls, repository),
      });
      return;
    }
    if (kind === 'manifests') {
      const separator = target.startsWith('sha256:') ? '@' : ':';
      const stored = manifests.get(`${repository}${separator}${target}`);
      if (stored === undefined) {
        const known = [...manifests.keys()].some(
          (key) => key.startsWith(`${repository}:`) || key.startsWith(`${repository}@`),
        );
        if (known) sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
        else sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
        return;
      }
      const headers: Record<string, string | number> = {
        'content-type': stored.mediaType,
        'content-length': stored.bytes.length,
      };
      if (!controls.omitDigestHeader) headers['docker-content-digest'] = sha256(stored.bytes);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : stored.bytes);
      return;
    }
    const data = blobs.get(target);
    if (data === undefined) {
      sendError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      return;
    }
    if (controls.blobLocation) {
      res.writeHead(307, { location: controls.blobLocation(target), 'content-length': 0 });
      res.end();
      return;
    }
    sendBlob(req, res, data);
  });
  return {
    ...server,
    controls,
    manifests,
    blobs,
    putManifest(repository, tag, value, mediaType) {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value, null, 2));
      const digest = sha256(bytes);
      manifests.set(`${repository}@${digest}`, { bytes, mediaType });
      if (tag !== undefined) manifests.set(`${repository}:${tag}`, { bytes, mediaType });
      return digest;
    },
    putBlob(data) {
      const digest = sha256(data);
      blobs.set(digest, data);
      return digest;
    },
  };
}

export interface BlobStore extends TestServer {
  /** URL of a blob, signed with the current signature */
  locationOf(digest: string): string;
  /** makes the signatures given out so far expire (answered 403) */
  expireSignatures(): void;
  /** override for the next answers: return true when handled */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** A second origin that serves blobs at signed URLs and refuses any request carrying Authorization. */
export async function startBlobStore(blobs: Map<string, Buffer>): Promise<BlobStore> {
  let signature = randomBytes(8).toString('hex');
  const store: Partial<BlobStore> = {};
  const server = await startServer((req, res) => {
    if (req.headers.authorization !== undefined) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Authorization must not reach the blob store');
      return;
    }
    if (store.intercept?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('sig') !== signature) {
      res
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    const data = blobs.get(url.pathname.slice('/blobs/'.length));
    if (data === undefined) {
      res.writeHead(404).end();
      return;
    }
    sendBlob(req, res, data);
  });
  Object.assign(store, server, {
    locationOf: (digest: string) => `${server.url}/blobs/${digest}?sig=${signature}`,
    expireSignatures: () => {
      signature = randomBytes(8).toString('hex');
    },
  });
  return store as BlobStore;
}

export interface TokenServerControls {
  /** username/password that the server accepts; anonymous tokens are always given */
  username: string;
  password: string;
  identityToken: string;
  expiresIn?: number;
  /** the field the token is sent in */
  field: 'token' | 'access_token';
}

export interface FakeTokenServer extends TestServer {
  controls: TokenServerControls;
  /** tokens issued: value → who and which scope */
  issued: Map<string, { subject: string; scope: string; serial: number }>;
  /** tokens no longer accepted by the registry */
  revoked: Set<string>;
}

/** A token server issuing opaque tokens for `service`/`scope`, to anonymous, Basic and refresh-token clients. */
export async function startTokenServer(): Promise<FakeTokenServer> {
  const controls: TokenServerControls = {
    username: 'alice',
    password: 's3cret',
    identityToken: 'refresh-123',
    field: 'token',
  };
  const issued = new Map<string, { subject: string; scope: string; serial: number }>();
  const revoked = new Set<string>();
  let serial = 0;
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let subject = 'anonymous';
    let scope = url.searchParams.getAll('scope').join(' ');
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (
        form.get('grant_type') !== 'refresh_token' ||
        form.get('refresh_token') !== controls.identityToken
      ) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
        return;
      }
      subject = 'refresh';
      scope = form.get('scope') ?? '';
    } else if (req.headers.authorization !== undefined) {
      const expected = `Basic ${Buffer.from(`${controls.username}:${controls.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"details":"incorrect username or password"}');
        return;
      }
      subject = controls.username;
    }
    serial++;
    const token = `tok-${serial}-${randomBytes(6).toString('hex')}`;
    issued.set(token, { subject, scope, serial });
    const body: Record<string, unknown> = { [controls.field]: token };
    if (controls.expiresIn !== undefined) body.expires_in = controls.expiresIn;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return { ...server, controls, issued, revoked };
}
