import { StargzError, toStargzError } from '../errors.js';

/**
 * Reads an async stream of blob bytes by blob offset: skip forward, take pieces up to a limit, or take an
 * exact length. Pieces are views of the body's buffers (a copy only when a read spans two of them).
 */
export class ByteCursor {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private current: Buffer = Buffer.alloc(0);
  private used = 0;
  private finished = false;
  /** blob offset of the next byte this cursor hands out */
  position: number;

  constructor(
    body: AsyncIterable<Uint8Array>,
    start: number,
    private readonly signal?: AbortSignal,
  ) {
    this.iterator = body[Symbol.asyncIterator]();
    this.position = start;
  }

  /** Loads the next body piece; false at the end of the body. */
  private async fill(): Promise<boolean> {
    while (this.used >= this.current.length) {
      if (this.finished) return false;
      if (this.signal?.aborted) {
        throw new StargzError('E_ABORTED', 'the operation was cancelled', { cause: this.signal.reason });
      }
      let result: IteratorResult<Uint8Array>;
      try {
        result = await this.iterator.next();
      } catch (error) {
        throw toStargzError(error, 'E_NETWORK');
      }
      if (result.done) {
        this.finished = true;
        return false;
      }
      const piece = result.value;
      this.current = Buffer.isBuffer(piece)
        ? piece
        : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      this.used = 0;
    }
    return true;
  }

  private truncated(wanted: number): StargzError {
    return new StargzError(
      'E_CORRUPT',
      `the layer data ends at byte ${this.position}, before byte ${wanted} that the TOC points to: ` +
        'the blob is truncated',
      { details: { position: this.position, wanted } },
    );
  }

  /** Drops bytes until `target`. */
  async skipTo(target: number): Promise<void> {
    while (this.position < target) {
      if (!(await this.fill())) throw this.truncated(target);
      const take = Math.min(this.current.length - this.used, target - this.position);
      this.used += take;
      this.position += take;
    }
  }

  /** The next piece of at most `limit - position` bytes (limit > position). */
  async next(limit: number): Promise<Buffer> {
    if (!(await this.fill())) throw this.truncated(limit);
    const take = Math.min(this.current.length - this.used, limit - this.position);
    const piece = this.current.subarray(this.used, this.used + take);
    this.used += take;
    this.position += take;
    return piece;
  }

  /** Exactly `length` bytes (a view when they lie in one body piece). */
  async take(length: number): Promise<Buffer> {
    const end = this.position + length;
    const first = await this.next(end);
    if (first.length === length) return first;
    const out = Buffer.allocUnsafe(length);
    first.copy(out, 0);
    let filled = first.length;
    while (filled < length) {
      const piece = await this.next(end);
      piece.copy(out, filled);
      filled += piece.length;
    }
    return out;
  }

  /** Stops reading the body (closes the underlying stream); safe to call twice. */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    try {
      await this.iterator.return?.();
    } catch {
      // the body is being abandoned: its errors no longer matter
    }
  }
}
