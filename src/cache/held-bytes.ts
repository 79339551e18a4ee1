/**
 * Blob bytes already in memory, kept a short while so later range reads inside them need no request:
 * opening a layer reads its tail, and in a small layer (or for the last files of a big one) the payload
 * before the TOC is part of that tail. Bounded per blob; the owner releases everything when done.
 */

import type { BlobRangeResponse, BlobSource } from '../registry/types.js';

/** Bytes held per blob at most (the part of a tail nearest the TOC is kept). */
export const DEFAULT_MAX_HELD_BYTES = 1024 * 1024;

interface Held {
  bytes: Uint8Array;
  /** blob offset of bytes[0] */
  start: number;
}

export interface HeldBytesStats {
  /** range reads answered from held bytes */
  served: number;
  bytesServed: number;
}

export class HeldBytes {
  readonly #max: number;
  readonly #held = new Map<string, Held>();
  readonly #stats: HeldBytesStats = { served: 0, bytesServed: 0 };

  constructor(maxPerBlob: number = DEFAULT_MAX_HELD_BYTES) {
    this.#max = maxPerBlob;
  }

  /**
   * Keeps a copy of blob bytes [start, end) of `bytes` (which start at blob offset `bytesStart`), at most
   * the last `maxPerBlob` of them. A copy, so the buffer they came from can be freed.
   */
  hold(digest: string, bytes: Uint8Array, bytesStart: number, end: number): void {
    const from = Math.max(bytesStart, end - this.#max);
    if (end <= from || this.#max <= 0) return;
    // new Uint8Array(view) copies (Buffer#slice would not)
    const copy = new Uint8Array(bytes.subarray(from - bytesStart, end - bytesStart));
    this.#held.set(digest, { bytes: copy, start: from });
  }

  /** Bytes held in all. */
  get size(): number {
    let total = 0;
    for (const held of this.#held.values()) total += held.bytes.length;
    return total;
  }

  stats(): HeldBytesStats {
    return { ...this.#stats };
  }

  /** Drops everything held. */
  release(): void {
    this.#held.clear();
  }

  /** `source`, with reads that fall inside held bytes answered from memory. */
  wrap(source: BlobSource): BlobSource {
    const lookup = (start: number, end: number): Uint8Array | undefined => {
      const held = this.#held.get(source.digest);
      if (held === undefined || start < held.start || end > held.start + held.bytes.length) return undefined;
      return held.bytes.subarray(start - held.start, end - held.start);
    };
    const stats = this.#stats;
    return {
      digest: source.digest,
      size: source.size,
      readRange(start, end, options = {}): Promise<BlobRangeResponse> {
        const bytes = end > start ? lookup(start, end) : undefined;
        if (bytes === undefined) return source.readRange(start, end, options);
        stats.served++;
        stats.bytesServed += bytes.length;
        return Promise.resolve({
          kind: 'partial',
          start,
          end,
          totalSize: source.size,
          body: once(bytes),
        });
      },
    };
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
