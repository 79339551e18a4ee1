import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  forwardRequest,
  frontResponseHeaders,
  type HttpTestServer,
  readBody,
  startHttpServer,
  type UpstreamResponse,
} from './http-server.js';

/** An upstream given as a URL or as any running server with a `url` (e.g. a `RegistryServer`). */
export type Upstream = string | { url: string };

const upstreamUrl = (upstream: Upstream) => (typeof upstream === 'string' ? upstream : upstream.url);

const BLOB_PATH = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/;

/** One request a front (or the blob origin) saw. */
export interface FrontRequestRecord {
  method: string;
  /** path and query as received */
  path: string;
  /** the `Range` header, if any */
  range: string | undefined;
  /** whether the request carried an `Authorization` header (its value is never recorded) */
  authorization: boolean;
  /** status answered (0 when the connection was cut before a status line) */
  status: number;
  /** name of the fault or behaviour applied, if any */
  fault?: string;
}

function recordOf(req: IncomingMessage): FrontRequestRecord {
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    range: req.headers.range,
    authorization: req.headers.authorization !== undefined,
    status: 0,
  };
}

function send(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body?: Buffer | string,
): void {
  res.writeHead(status, headers);
  res.end(body);
}

/** Parses one `bytes=a-b` / `bytes=a-` / `bytes=-n` range against `size`; `multi` for several, `invalid` otherwise. */
export function parseSingleRange(
  header: string,
  size: number,
): { start: number; end: number } | 'multi' | 'invalid' | 'unsatisfiable' {
  const match = /^bytes=(.*)$/.exec(header.trim());
  if (!match) return 'invalid';
  if (match[1]!.includes(',')) return 'multi';
  const spec = /^(\d*)-(\d*)$/.exec(match[1]!.trim());
  if (!spec || (spec[1] === '' && spec[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (spec[1] === '') {
    start = Math.max(0, size - Number(spec[2]));
    end = size - 1;
  } else {
    start = Number(spec[1]);
    end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

// ---------------------------------------------------------------------------------------------------------------
// Redirect front

export interface RedirectFrontOptions {
  /** redirect status for blob GETs, default 307 */
  redirectStatus?: 301 | 302 | 303 | 307 | 308;
  /** make blob URLs signed URLs valid this many ms (403 afterwards); default: plain URLs that never expire */
  signedUrlTtlMs?: number;
}

/** The second origin (`localhost:PORT`) that serves redirected blob bytes. */
export interface BlobOrigin {
  readonly url: string;
  readonly host: string;
  /** every request it saw */
  readonly requests: FrontRequestRecord[];
  /** requests that carried `Authorization` (answered 400): must stay empty for a correct client */
  readonly violations: FrontRequestRecord[];
}

export interface RedirectFront {
  /** `http://127.0.0.1:PORT`: use it as the registry */
  readonly url: string;
  readonly host: string;
  readonly blobOrigin: BlobOrigin;
  /** every request the front saw */
  readonly requests: FrontRequestRecord[];
  /** Makes every signed URL issued so far answer 403 (a deterministic "the signed URL expired"). */
  expireSignedUrls(): void;
  close(): Promise<void>;
}

/**
 * Starts a front that proxies everything to `upstream` (the registry), except blob GETs: those it checks upstream
 * with the client's own credentials and answers with a redirect to a blob origin on another origin
 * (`localhost` instead of `127.0.0.1`, another port). The origin serves the bytes with single-range support
 * (206 + Content-Range; a multi-range request gets 400), answers 400 and records a violation for any request
 * carrying `Authorization`, and (with `signedUrlTtlMs`) 403 for an expired or tampered signed URL.
 */
export async function startRedirectFront(
  upstream: Upstream,
  options: RedirectFrontOptions = {},
): Promise<RedirectFront> {
  const base = upstreamUrl(upstream);
  const blobs = new Map<string, Buffer>();
  const key = randomBytes(32);
  const originRequests: FrontRequestRecord[] = [];
  const violations: FrontRequestRecord[] = [];
  const frontRequests: FrontRequestRecord[] = [];
  let generation = 0;
  let oldestValidGeneration = 0;
  const sign = (digest: string, expires: number, gen: number) =>
    createHmac('sha256', key).update(`${digest}\n${expires}\n${gen}`).digest('base64url');

  const origin = await startHttpServer(
    (req, res) => {
      const record = recordOf(req);
      originRequests.push(record);
      const answer = (status: number, headers: OutgoingHttpHeaders, body?: Buffer | string) => {
        record.status = status;
        send(res, status, headers, req.method === 'HEAD' ? undefined : body);
      };
      if (record.authorization) {
        violations.push(record);
        return answer(
          400,
          { 'content-type': 'text/plain' },
          'Authorization must not be sent to the blob origin',
        );
      }
      const url = new URL(req.url ?? '/', 'http://origin.invalid');
      const digest = /^\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)?.[1];
      const data = digest ? blobs.get(digest) : undefined;
      if (!digest || !data) return answer(404, { 'content-type': 'text/plain' }, 'no such blob');
      if (options.signedUrlTtlMs !== undefined) {
        const expires = Number(url.searchParams.get('X-Expires'));
        const gen = Number(url.searchParams.get('X-Generation'));
        const given = Buffer.from(url.searchParams.get('X-Signature') ?? '');
        const wanted = Buffer.from(sign(digest, expires, gen));
        const valid = given.length === wanted.length && timingSafeEqual(given, wanted);
        if (!valid || Date.now() > expires || gen < oldestValidGeneration) {
          record.fault = 'signed-url-expired';
          return answer(
            403,
            { 'content-type': 'application/xml' },
            '<Error><Code>AccessDenied</Code></Error>',
          );
        }
      }
      const headers: OutgoingHttpHeaders = {
        'content-type': 'application/octet-stream',
        'accept-ranges': 'bytes',
      };
      if (req.headers.range === undefined) {
        return answer(200, { ...headers, 'content-length': data.length }, data);
      }
      const range = parseSingleRange(req.headers.range, data.length);
      if (range === 'multi' || range === 'invalid') {
        return answer(400, { 'content-type': 'text/plain' }, `unsupported Range: ${req.headers.range}`);
      }
      if (range === 'unsatisfiable') return answer(416, { 'content-range': `bytes */${data.length}` });
      const slice = data.subarray(range.start, range.end + 1);
      return answer(
        206,
        {
          ...headers,
          'content-length': slice.length,
          'content-range': `bytes ${range.start}-${range.end}/${data.length}`,
        },
        slice,
      );
    },
    { hostname: 'localhost' },
  );

  let front: HttpTestServer | undefined;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const record = recordOf(req);
    frontRequests.push(record);
    const body = await readBody(req);
    const blob = req.method === 'GET' ? BLOB_PATH.exec(new URL(req.url ?? '/', base).pathname) : null;
    const upstreamAnswer = await forwardRequest(req, body, base, blob ? { range: undefined } : {});
    if (blob && upstreamAnswer.status === 200) {
      const digest = blob[2]!;
      blobs.set(digest, upstreamAnswer.body);
      const location = new URL(`/blobs/${digest}`, origin.url);
      if (options.signedUrlTtlMs !== undefined) {
        const expires = Date.now() + options.signedUrlTtlMs;
        const gen = generation++;
        location.searchParams.set('X-Expires', String(expires));
        location.searchParams.set('X-Generation', String(gen));
        location.searchParams.set('X-Signature', sign(digest, expires, gen));
      }
      record.status = options.redirectStatus ?? 307;
      record.fault = 'redirect';
      return send(res, record.status, { location: location.toString(), 'content-length': 0 });
    }
    record.status = upstreamAnswer.status;
    send(
      res,
      upstreamAnswer.status,
      frontResponseHeaders(upstreamAnswer, base, front!.url),
      upstreamAnswer.body,
    );
  };
  front = await startHttpServer(handler);
  return {
    url: front.url,
    host: front.host,
    requests: frontRequests,
    blobOrigin: { url: origin.url, host: origin.host, requests: originRequests, violations },
    expireSignedUrls() {
      oldestValidGeneration = generation;
    },
    async close() {
      await Promise.all([front!.close(), origin.close()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Fault front

/** What a fault matcher sees of a request. */
export interface FaultRequest {
  method: string;
  /** path without the query */
  path: string;
  range: string | undefined;
  /** the raw Authorization value (for matchers such as "token revoked"); never recorded */
  authorization: string | undefined;
  headers: IncomingMessage['headers'];
}

/** Which requests a rule applies to; every given field must match. */
export interface FaultMatcher {
  method?: string;
  /** exact path, or a pattern tested against the path */
  path?: string | RegExp;
  /** only blob requests `/v2/<name>/blobs/sha256:…` */
  blobs?: boolean;
  /** only manifest requests `/v2/<name>/manifests/<ref>` */
  manifests?: boolean;
  /** only requests with (true) or without (false) a Range header */
  ranged?: boolean;
  when?: (request: FaultRequest) => boolean;
}

/** What the front does instead of (or to) the upstream answer. */
export type FaultAction =
  /** answer `status` without asking upstream; `retryAfter` in seconds, as a Date, or a raw header value */
  | {
      type: 'status';
      status: number;
      retryAfter?: number | Date | string;
      headers?: Record<string, string>;
      body?: string;
    }
  /** send the status line, headers and `afterBytes` body bytes (default half), then reset the connection (RST) */
  | { type: 'reset'; afterBytes?: number }
  /** declare the full Content-Length, send `afterBytes` (default half), then close the connection cleanly */
  | { type: 'truncate'; afterBytes?: number }
  /** drop the Range header upstream: the answer is 200 with the whole blob */
  | { type: 'ignore-range' }
  /** a request with several ranges gets 400 (applies only to multi-range requests) */
  | { type: 'refuse-multirange' }
  /** a request with several ranges gets 200 and the whole object (applies only to multi-range requests) */
  | { type: 'whole-on-multirange' }
  /** wait `ms` before answering; with `chunkSize`/`intervalMs` the body also trickles out slowly */
  | { type: 'delay'; ms: number; chunkSize?: number; intervalMs?: number }
  /** flip (xor 0xff) the byte at `blobOffset` of the blob if the answer covers it (200 or 206) */
  | { type: 'corrupt'; blobOffset: number }
  /** replace the Content-Range of a 206: `contentRange` as given, or the true one shifted by `shift` (default 1) */
  | { type: 'wrong-content-range'; contentRange?: string; shift?: number };

/** A rule: for the first `times` matching requests (default: all), apply `action`. */
export interface FaultRule {
  /** name shown in records (default the action type) */
  name?: string;
  match?: FaultMatcher;
  times?: number;
  action: FaultAction;
}

export interface FaultFront {
  readonly url: string;
  readonly host: string;
  /** every request the front saw, with the fault applied if any */
  readonly requests: FrontRequestRecord[];
  /** Appends a rule (rules are tried in order; the first one that matches and has uses left applies). */
  addRule(rule: FaultRule): void;
  /** Replaces all rules and their counters. */
  setRules(rules: FaultRule[]): void;
  /** how many times the rule at `index` has been applied */
  hits(index: number): number;
  close(): Promise<void>;
}

const isMultiRange = (range: string | undefined) => range?.includes(',') === true;

function matches(matcher: FaultMatcher | undefined, request: FaultRequest): boolean {
  if (!matcher) return true;
  if (matcher.method !== undefined && matcher.method.toUpperCase() !== request.method) return false;
  if (typeof matcher.path === 'string' && matcher.path !== request.path) return false;
  if (matcher.path instanceof RegExp && !matcher.path.test(request.path)) return false;
  if (matcher.blobs && !BLOB_PATH.test(request.path)) return false;
  if (matcher.manifests && !/^\/v2\/.+\/manifests\/[^/]+$/.test(request.path)) return false;
  if (matcher.ranged !== undefined && matcher.ranged !== (request.range !== undefined)) return false;
  return matcher.when ? matcher.when(request) : true;
}

function retryAfterValue(value: number | Date | string): string {
  if (value instanceof Date) return value.toUTCString();
  return String(value);
}

/** Start offset of the blob bytes in an answer: the Content-Range start of a 206, 0 for a 200. */
function bodyStart(answer: UpstreamResponse): number | undefined {
  if (answer.status === 200) return 0;
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(String(answer.headers['content-range'] ?? ''));
  return answer.status === 206 && match ? Number(match[1]) : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a programmable reverse proxy in front of `upstream` (the registry). Each request is matched against the
 * rules in order; the first rule that matches and has uses left applies its fault, otherwise the request passes
 * through unchanged (Location headers on the upstream origin are rewritten to the front; WWW-Authenticate
 * passes as is). Every request is recorded.
 */
export async function startFaultFront(upstream: Upstream, rules: FaultRule[] = []): Promise<FaultFront> {
  const base = upstreamUrl(upstream);
  let plan = rules.map((rule) => ({ rule, hits: 0 }));
  const requests: FrontRequestRecord[] = [];
  let front: HttpTestServer | undefined;

  const pick = (request: FaultRequest) =>
    plan.find(({ rule, hits }) => {
      if (rule.times !== undefined && hits >= rule.times) return false;
      const multiOnly =
        rule.action.type === 'refuse-multirange' || rule.action.type === 'whole-on-multirange';
      if (multiOnly && !isMultiRange(request.range)) return false;
      return matches(rule.match, request);
    });

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const record = recordOf(req);
    requests.push(record);
    const body = await readBody(req);
    const request: FaultRequest = {
      method: record.method,
      path: new URL(req.url ?? '/', base).pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
      headers: req.headers,
    };
    const chosen = pick(request);
    const action = chosen?.rule.action;
    if (chosen) {
      chosen.hits++;
      record.fault = chosen.rule.name ?? chosen.rule.action.type;
    }
    if (action?.type === 'status') {
      const headers: OutgoingHttpHeaders = { 'content-type': 'application/json', ...action.headers };
      if (action.retryAfter !== undefined) headers['retry-after'] = retryAfterValue(action.retryAfter);
      const text =
        action.body ??
        JSON.stringify({ errors: [{ code: 'INJECTED', message: `injected HTTP ${action.status}` }] });
      record.status = action.status;
      return send(res, action.status, headers, text);
    }
    if (action?.type === 'refuse-multirange') {
      record.status = 400;
      return send(res, 400, { 'content-type': 'text/plain' }, 'multiple ranges are not supported');
    }
    const dropRange = action?.type === 'ignore-range' || action?.type === 'whole-on-multirange';
    const answer = await forwardRequest(req, body, base, dropRange ? { range: undefined } : {});
    const headers = frontResponseHeaders(answer, base, front!.url);
    let payload = answer.body;
    record.status = answer.status;
    if (action?.type === 'corrupt') {
      const start = bodyStart(answer);
      const at = start === undefined ? -1 : action.blobOffset - start;
      if (at >= 0 && at < payload.length) {
        payload = Buffer.from(payload);
        payload[at]! ^= 0xff;
      }
    }
    if (action?.type === 'wrong-content-range' && answer.status === 206) {
      const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(answer.headers['content-range']));
      const shift = action.shift ?? 1;
      headers['content-range'] =
        action.contentRange ??
        (match ? `bytes ${Number(match[1]) + shift}-${Number(match[2]) + shift}/${match[3]}` : 'bytes 0-0/1');
    }
    if (action?.type === 'delay') await sleep(action.ms);
    if (action?.type === 'reset' || action?.type === 'truncate') {
      const cut = Math.min(payload.length, action.afterBytes ?? Math.floor(payload.length / 2));
      res.writeHead(answer.status, { ...headers, 'content-length': payload.length });
      res.flushHeaders();
      const socket = res.socket!;
      res.write(payload.subarray(0, cut), () => {
        if (action.type === 'truncate') socket.end();
        else setTimeout(() => socket.resetAndDestroy(), 20);
      });
      return;
    }
    if (action?.type === 'delay' && action.chunkSize && action.intervalMs !== undefined) {
      res.writeHead(answer.status, { ...headers, 'content-length': payload.length });
      for (let offset = 0; offset < payload.length; offset += action.chunkSize) {
        res.write(payload.subarray(offset, offset + action.chunkSize));
        await sleep(action.intervalMs);
      }
      res.end();
      return;
    }
    send(res, answer.status, headers, req.method === 'HEAD' ? undefined : payload);
  };
  front = await startHttpServer(handler);
  return {
    url: front.url,
    host: front.host,
    requests,
    addRule(rule) {
      plan.push({ rule, hits: 0 });
    },
    setRules(next) {
      plan = next.map((rule) => ({ rule, hits: 0 }));
    },
    hits(index) {
      return plan[index]?.hits ?? 0;
    },
    close: () => front!.close(),
  };
}
