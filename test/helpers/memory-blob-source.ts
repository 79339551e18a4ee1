import { createHash } from 'node:crypto';
import type { BlobRangeResponse, BlobSource } from '../../src/registry/types.js';

export interface MemoryBlobSourceOptions {
  /** behave like a server that ignores Range: every read answers `whole` with the blob from byte 0 */
  ignoreRange?: boolean;
  /** the body is delivered in pieces of this many bytes (default 64 KiB) */
  pieceSize?: number;
  /** the digest to report (default: the real sha256 of the blob) */
  digest?: string;
  /** the size to report (default: the blob length), to model a lying descriptor */
  size?: number;
}

/** A BlobSource over a Buffer for unit tests. Records every read and how many body bytes were consumed. */
export class MemoryBlobSource implements BlobSource {
  readonly digest: string;
  readonly size: number;
  /** every readRange call, in order */
  readonly reads: Array<{ start: number; end: number }> = [];
  /** body bytes handed out to readers (a reader that stops early consumes less) */
  bytesServed = 0;

  constructor(
    private readonly blob: Uint8Array,
    private readonly options: MemoryBlobSourceOptions = {},
  ) {
    this.digest = options.digest ?? `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    this.size = options.size ?? blob.length;
  }

  async readRange(
    start: number,
    end: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<BlobRangeResponse> {
    options.signal?.throwIfAborted();
    this.reads.push({ start, end });
    const whole = this.options.ignoreRange === true;
    const from = whole ? 0 : start;
    const to = whole ? this.blob.length : Math.min(end, this.blob.length);
    return {
      kind: whole ? 'whole' : 'partial',
      start: from,
      end: whole ? to : end,
      totalSize: this.blob.length,
      body: this.body(from, to),
    };
  }

  private async *body(from: number, to: number): AsyncGenerator<Uint8Array> {
    const pieceSize = this.options.pieceSize ?? 64 * 1024;
    for (let at = from; at < to; at += pieceSize) {
      const piece = this.blob.subarray(at, Math.min(to, at + pieceSize));
      this.bytesServed += piece.length;
      yield piece;
    }
  }
}
