/**
 * A response from the transport: status, headers, where it finally came from, and a streaming body that is
 * counted as it is read. The body is read once, by streaming, buffering (with a cap) or dumping.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { StargzError } from '../errors.js';

/** Called with the byte count when the body has been read to its end, failed, or been abandoned. */
export type BodyDoneListener = (bytes: number, outcome: 'end' | 'error' | 'abandoned') => void;

/** A URL fit for logs and error messages: no user info, no query (signed URLs carry secrets there). */
export function redactUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

export class HttpResponse {
  /** bytes of body read so far */
  bytesRead = 0;
  private consumed = false;

  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    /** the URL that answered, after redirects */
    readonly url: URL,
    /** redirect hops followed */
    readonly redirects: number,
    /** true when a redirect crossed to another origin (so Authorization was dropped) */
    readonly originChanged: boolean,
    private readonly raw: Readable & { dump?(options?: { limit: number }): Promise<void> },
    private readonly onBodyDone: BodyDoneListener,
  ) {}

  /** A header value; repeated headers are joined with `, ` (set-cookie is never needed here). */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** Every value of a header that may repeat (`www-authenticate`). */
  headerValues(name: string): string[] {
    const value = this.headers[name.toLowerCase()];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  }

  /** The Content-Length as a number, when present and sane. */
  get contentLength(): number | undefined {
    const value = this.header('content-length');
    if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
    return Number(value);
  }

  private claim(): void {
    if (this.consumed) throw new StargzError('E_INTERNAL', 'a response body was read twice');
    this.consumed = true;
  }

  /** Streams the body. Breaking out of the loop closes the connection's body cleanly. */
  body(): AsyncIterable<Uint8Array> {
    this.claim();
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<Uint8Array> {
    let outcome: 'end' | 'error' | 'abandoned' = 'abandoned';
    try {
      for await (const chunk of this.raw) {
        const bytes = chunk as Uint8Array;
        this.bytesRead += bytes.length;
        yield bytes;
      }
      outcome = 'end';
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      if (outcome === 'abandoned') this.raw.destroy();
      this.onBodyDone(this.bytesRead, outcome);
    }
  }

  /** Reads the whole body; more than `maxBytes` is `E_PROTOCOL` (checked on Content-Length first). */
  async bytes(maxBytes: number, what = 'response'): Promise<Buffer> {
    const declared = this.contentLength;
    const tooBig = (): StargzError =>
      new StargzError('E_PROTOCOL', `${what} is larger than the ${maxBytes}-byte limit`, {
        details: { limit: maxBytes, contentLength: declared },
      });
    if (declared !== undefined && declared > maxBytes) {
      this.claim();
      this.raw.destroy();
      this.onBodyDone(0, 'abandoned');
      throw tooBig();
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of this.body()) {
      total += chunk.length;
      if (total > maxBytes) throw tooBig();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  /** Reads a short body as text (for error messages); reads at most `maxBytes`, never throws. */
  async text(maxBytes = 64 * 1024): Promise<string> {
    if (this.consumed) return '';
    try {
      return (await this.bytes(maxBytes)).toString('utf8');
    } catch {
      return '';
    }
  }

  /** Discards the body so the connection can be reused (or closes it when the body is large). */
  async dump(): Promise<void> {
    if (this.consumed) return;
    this.consumed = true;
    try {
      if (typeof this.raw.dump === 'function') await this.raw.dump({ limit: 128 * 1024 });
      else this.raw.destroy();
    } catch {
      // a body we do not want failing is not an error
    }
    this.onBodyDone(this.bytesRead, 'abandoned');
  }
}
