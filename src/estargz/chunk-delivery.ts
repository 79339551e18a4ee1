import { createHash, type Hash } from 'node:crypto';
import { StargzError, toStargzError } from '../errors.js';
import type { TocChunk } from './types.js';

/** One chunk to decode and where its bytes go. */
export interface MemberRequest<T> {
  chunk: TocChunk;
  /** the caller's handle for this request, passed back through openSink */
  tag: T;
  /** digest the chunk's bytes must have; defaults to chunk.chunkDigest (no check when neither is set) */
  expectedDigest?: string;
  /** names the file in error messages */
  name?: string;
}

/** Receives one chunk's bytes in order. `end` follows a verified chunk; `abort` any failure. */
export interface ChunkSink {
  /** bytes stay valid after the call (never reused); awaiting the result applies backpressure */
  write(data: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
  abort?(err: unknown): void | Promise<void>;
}

interface Delivery<T> {
  request: MemberRequest<T>;
  start: number;
  end: number;
  sink?: ChunkSink;
  hash?: Hash;
  expected?: string;
  closed: boolean;
}

/** Wraps a sink's own failure so that every error leaving decodeMembers is a StargzError. */
function sinkError(error: unknown): StargzError {
  return toStargzError(error, 'E_IO');
}

/**
 * Routes the decompressed stream of one extent (a run of gzip members) to the sinks of the requests in
 * it: request i receives bytes [innerOffset, innerOffset + chunkSize) of that stream. Requests are
 * sorted by innerOffset and may overlap.
 */
export class ExtentDelivery<T> {
  private readonly deliveries: Delivery<T>[];
  private readonly active: Delivery<T>[] = [];
  private nextToOpen = 0;
  private position = 0;
  /** decompressed bytes needed: the end of the last request */
  readonly neededEnd: number;

  constructor(
    requests: readonly MemberRequest<T>[],
    private readonly openSink: (req: MemberRequest<T>) => ChunkSink | Promise<ChunkSink>,
    private readonly verify: boolean,
    private readonly opened: Set<Delivery<unknown>>,
  ) {
    this.deliveries = requests.map((request) => ({
      request,
      start: request.chunk.innerOffset,
      end: request.chunk.innerOffset + request.chunk.chunkSize,
      closed: false,
    }));
    this.neededEnd = this.deliveries.reduce((max, d) => Math.max(max, d.end), 0);
  }

  get done(): boolean {
    return (
      this.position >= this.neededEnd && this.nextToOpen >= this.deliveries.length && this.active.length === 0
    );
  }

  /** Delivers the next piece of decompressed output. */
  async push(piece: Buffer): Promise<void> {
    const pieceStart = this.position;
    const pieceEnd = pieceStart + piece.length;
    this.position = pieceEnd;
    while (this.nextToOpen < this.deliveries.length) {
      const delivery = this.deliveries[this.nextToOpen] as Delivery<T>;
      if (delivery.start >= pieceEnd && !(delivery.start === delivery.end && delivery.start <= pieceEnd))
        break;
      this.nextToOpen++;
      await this.open(delivery);
      this.active.push(delivery);
    }
    for (let i = 0; i < this.active.length; ) {
      const delivery = this.active[i] as Delivery<T>;
      const from = Math.max(delivery.start, pieceStart);
      const to = Math.min(delivery.end, pieceEnd);
      if (to > from) {
        const data = piece.subarray(from - pieceStart, to - pieceStart);
        delivery.hash?.update(data);
        try {
          await delivery.sink?.write(data);
        } catch (error) {
          throw sinkError(error);
        }
      }
      if (delivery.end <= pieceEnd) {
        this.active.splice(i, 1);
        await this.complete(delivery);
      } else {
        i++;
      }
    }
  }

  /** Delivers nothing more: fails when the decompressed stream ended before every request was served. */
  finish(extentStart: number): void {
    if (this.done) return;
    throw new StargzError(
      'E_CORRUPT',
      `the gzip data at blob offset ${extentStart} holds ${this.position} bytes, fewer than the ${this.neededEnd} ` +
        'the TOC says: the layer is corrupt',
      { details: { offset: extentStart, got: this.position, needed: this.neededEnd } },
    );
  }

  private async open(delivery: Delivery<T>): Promise<void> {
    const { request } = delivery;
    const expected = request.expectedDigest ?? request.chunk.chunkDigest;
    if (this.verify && expected !== undefined) {
      const colon = expected.indexOf(':');
      const algorithm = expected.slice(0, colon);
      if (algorithm !== 'sha256' && algorithm !== 'sha512') {
        throw new StargzError('E_UNSUPPORTED', `digest algorithm of ${expected} is not supported`, {
          details: { digest: expected },
        });
      }
      delivery.hash = createHash(algorithm);
      delivery.expected = expected;
    }
    try {
      delivery.sink = await this.openSink(request);
    } catch (error) {
      throw sinkError(error);
    }
    this.opened.add(delivery as Delivery<unknown>);
  }

  private async complete(delivery: Delivery<T>): Promise<void> {
    delivery.closed = true;
    this.opened.delete(delivery as Delivery<unknown>);
    const sink = delivery.sink as ChunkSink;
    if (delivery.hash !== undefined && delivery.expected !== undefined) {
      const algorithm = delivery.expected.slice(0, delivery.expected.indexOf(':'));
      const actual = `${algorithm}:${delivery.hash.digest('hex')}`;
      if (actual !== delivery.expected) {
        const { name, chunk } = delivery.request;
        const error = new StargzError(
          'E_DIGEST_MISMATCH',
          `${name === undefined ? 'a chunk' : JSON.stringify(name)} at blob offset ${chunk.offset} (file bytes ` +
            `${chunk.chunkOffset}-${chunk.chunkOffset + chunk.chunkSize - 1}) has digest ${actual}, but the TOC ` +
            `says ${delivery.expected}: the layer is corrupt or was altered`,
          {
            details: {
              ...(name === undefined ? {} : { name }),
              expected: delivery.expected,
              actual,
              offset: chunk.offset,
              chunkOffset: chunk.chunkOffset,
            },
          },
        );
        await abortSink(sink, error);
        throw error;
      }
    }
    try {
      await sink.end();
    } catch (error) {
      throw sinkError(error);
    }
  }
}

/** Tells a sink its chunk failed; a failing abort is ignored (the first error wins). */
export async function abortSink(sink: ChunkSink | undefined, error: unknown): Promise<void> {
  try {
    await sink?.abort?.(error);
  } catch {
    // keep the original error
  }
}

/** Aborts every sink that was opened and not yet ended. */
export async function abortOpened(opened: Set<Delivery<unknown>>, error: unknown): Promise<void> {
  for (const delivery of opened) {
    delivery.closed = true;
    await abortSink(delivery.sink, error);
  }
  opened.clear();
}

export type OpenedDeliveries = Set<Delivery<unknown>>;
