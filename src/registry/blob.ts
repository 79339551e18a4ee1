/**
 * Ranged blob reads. One `GET` with a single `Range` per read; redirects to object stores are followed
 * by the transport (without Authorization off-origin) and their final location is reused for later reads
 * of the same blob until it fails (signed URLs expire: the blob URL is resolved again). A 206 must carry
 * exactly the range asked; a 200 means the server ignores Range and the body is the whole blob. A body that
 * breaks off is resumed from the bytes already received, transparently.
 */

import { StargzError } from '../errors.js';
import { type RegistryApi, repositoryName } from './api.js';
import type { HttpResponse } from './http-response.js';
import { redactUrl } from './http-response.js';
import { isValidDigest } from './reference.js';
import { type ErrorSubject, registryError } from './registry-errors.js';
import { describeCause, isRetryableNetworkError } from './retry.js';
import type { BlobRangeResponse, ImageReference } from './types.js';

/** What a client remembers about blobs across reads. */
export interface BlobMemory {
  /** final (other-origin) location of a blob after its redirect, by `registry/repository@digest` */
  locations: Map<string, URL>;
  /** registries seen answering a range request with the whole blob */
  rangeIgnored: Set<string>;
}

export function createBlobMemory(): BlobMemory {
  return { locations: new Map(), rangeIgnored: new Set() };
}

export interface ReadRangeOptions {
  signal?: AbortSignal;
  /** the blob size when known (from its descriptor): the end of a 'whole' answer without Content-Length */
  size?: number;
}

interface OpenedRange {
  response: HttpResponse;
  kind: 'partial' | 'whole';
  totalSize?: number;
}

const CONTENT_RANGE = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i;

/** Parses `bytes a-b/total` (total may be `*`). */
export function parseContentRange(
  value: string | undefined,
): { first: number; last: number; total?: number } | undefined {
  const match = value === undefined ? null : CONTENT_RANGE.exec(value.trim());
  if (!match) return undefined;
  const total = match[3] === '*' ? undefined : Number(match[3]);
  return { first: Number(match[1]), last: Number(match[2]), ...(total !== undefined ? { total } : {}) };
}

class BlobRead {
  private readonly key: string;
  private readonly subject: ErrorSubject;

  constructor(
    private readonly api: RegistryApi,
    private readonly memory: BlobMemory,
    private readonly reference: ImageReference,
    private readonly digest: string,
    private readonly options: ReadRangeOptions,
  ) {
    this.key = `${reference.registry}/${reference.repository}@${digest}`;
    this.subject = {
      what: `blob ${digest} of ${repositoryName(reference)}`,
      repository: repositoryName(reference),
      notFoundHint: 'the layer digest and the repository',
    };
  }

  /** Opens [start, end): the remembered location first, else the registry (re-resolving once on 403). */
  async open(start: number, end: number | undefined): Promise<OpenedRange> {
    const headers = {
      range: `bytes=${start}-${end === undefined ? '' : end - 1}`,
      'accept-encoding': 'identity',
    };
    const signal = this.options.signal;
    let reresolved = false;
    const cached = this.memory.locations.get(this.key);
    if (cached !== undefined) {
      const response = await this.api.transport.request({ method: 'GET', url: cached, headers, signal });
      if (response.status === 200 || response.status === 206) return this.check(response, start, end);
      // expired or revoked signed URL: forget it and ask the registry again
      await response.dump();
      this.memory.locations.delete(this.key);
      reresolved = true;
    }
    const url = this.api.url(this.reference, 'blobs', this.digest);
    let response = await this.api.send(this.reference, url, { method: 'GET', headers, signal });
    if (response.status === 403 && response.originChanged && !reresolved) {
      await response.dump();
      this.api.transport.logger.debug(
        `blob location ${redactUrl(response.url)} refused (403): resolving again`,
      );
      response = await this.api.send(this.reference, url, { method: 'GET', headers, signal });
    }
    if (response.originChanged && (response.status === 200 || response.status === 206)) {
      this.memory.locations.set(this.key, response.url);
    }
    return this.check(response, start, end);
  }

  private async check(response: HttpResponse, start: number, end: number | undefined): Promise<OpenedRange> {
    if (response.status === 206) {
      const range = parseContentRange(response.header('content-range'));
      const lastWanted = end === undefined ? undefined : end - 1;
      const fits =
        range !== undefined &&
        range.first === start &&
        (lastWanted === undefined
          ? range.total === undefined || range.last === range.total - 1
          : range.last === lastWanted);
      if (!fits) {
        await response.dump();
        const asked = `bytes ${start}-${lastWanted ?? ''}`;
        throw new StargzError(
          'E_PROTOCOL',
          `${this.subject.what}: asked for ${asked}, the server sent Content-Range "${response.header('content-range') ?? '(none)'}"`,
          {
            details: { asked, contentRange: response.header('content-range'), url: redactUrl(response.url) },
          },
        );
      }
      return { response, kind: 'partial', ...(range?.total !== undefined ? { totalSize: range.total } : {}) };
    }
    if (response.status === 200) {
      if (!this.memory.rangeIgnored.has(this.reference.registry)) {
        this.memory.rangeIgnored.add(this.reference.registry);
        this.api.transport.logger.debug(
          `${this.reference.registry} ignores Range: it answered 200 with the whole blob`,
        );
      }
      const totalSize = response.contentLength ?? this.options.size;
      return { response, kind: 'whole', ...(totalSize !== undefined ? { totalSize } : {}) };
    }
    const body = await response.text(16 * 1024);
    if (response.status === 416) {
      throw new StargzError(
        'E_PROTOCOL',
        `${this.subject.what}: range ${start}-${end ?? ''} is not satisfiable (HTTP 416); the blob is shorter than asked`,
        { details: { start, end, contentRange: response.header('content-range') } },
      );
    }
    throw registryError(response.status, body, this.subject);
  }

  /**
   * The body from `position` to `end`, resuming after breaks: a resumed 206 continues, a resumed 200
   * (Range ignored) is skipped up to the position.
   */
  async *stream(first: HttpResponse, position: number, end: number | undefined): AsyncGenerator<Uint8Array> {
    const transport = this.api.transport;
    let response = first;
    let skip = 0;
    let next = position;
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const chunk of response.body()) {
          let bytes = chunk;
          if (skip > 0) {
            const dropped = Math.min(skip, bytes.length);
            skip -= dropped;
            bytes = bytes.subarray(dropped);
            if (bytes.length === 0) continue;
          }
          if (end !== undefined && next + bytes.length > end) {
            throw new StargzError(
              'E_PROTOCOL',
              `${this.subject.what}: the server sent more bytes than asked`,
              {
                details: { end, received: next + bytes.length },
              },
            );
          }
          next += bytes.length;
          yield bytes;
        }
        if (end === undefined || next === end) return;
        throw new TruncatedBody(next, end);
      } catch (error) {
        if (StargzError.is(error)) throw error;
        if (this.options.signal?.aborted) throw new StargzError('E_ABORTED', 'the operation was cancelled');
        const retryable = error instanceof TruncatedBody || isRetryableNetworkError(error);
        const reason = error instanceof TruncatedBody ? error.message : describeCause(error);
        if (!retryable || attempt >= transport.retryOptions.maxRetries) {
          throw new StargzError(
            'E_NETWORK',
            `reading ${this.subject.what} broke off at byte ${next} after ${attempt + 1} attempt(s): ${reason}`,
            { cause: error, details: { position: next, end } },
          );
        }
        await transport.waitBeforeRetry(
          { method: 'GET', signal: this.options.signal },
          response.url,
          attempt,
          transport.backoff(attempt),
          `resume at byte ${next}: ${reason}`,
        );
        const reopened = await this.open(next, end);
        response = reopened.response;
        skip = reopened.kind === 'whole' ? next : 0;
      }
    }
  }
}

class TruncatedBody extends Error {
  constructor(received: number, end: number) {
    super(`body ended at byte ${received}, expected ${end}`);
  }
}

/**
 * Reads bytes [start, end) of a blob. `kind: 'partial'` is exactly that range; `kind: 'whole'` means the
 * server ignored Range and the body is the whole blob from byte 0 (its end is the blob size when known,
 * else Infinity). Breaks in the body are resumed transparently.
 */
export async function readBlobRange(
  api: RegistryApi,
  memory: BlobMemory,
  reference: ImageReference,
  digest: string,
  start: number,
  end: number,
  options: ReadRangeOptions = {},
): Promise<BlobRangeResponse> {
  if (!isValidDigest(digest)) {
    throw new StargzError('E_USAGE', `invalid blob digest "${digest}"`, { details: { digest } });
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StargzError('E_INTERNAL', `invalid blob range [${start}, ${end})`, { details: { start, end } });
  }
  if (options.size !== undefined && end > options.size) {
    throw new StargzError('E_INTERNAL', `range [${start}, ${end}) is past the blob's ${options.size} bytes`);
  }
  if (start === end) {
    return { kind: 'partial', start, end, body: (async function* () {})() };
  }
  const read = new BlobRead(api, memory, reference, digest, options);
  const opened = await read.open(start, end);
  if (opened.kind === 'partial') {
    return {
      kind: 'partial',
      start,
      end,
      ...(opened.totalSize !== undefined ? { totalSize: opened.totalSize } : {}),
      body: read.stream(opened.response, start, end),
    };
  }
  const total = opened.totalSize;
  return {
    kind: 'whole',
    start: 0,
    end: total ?? Number.POSITIVE_INFINITY,
    ...(total !== undefined ? { totalSize: total } : {}),
    body: read.stream(opened.response, 0, total),
  };
}
