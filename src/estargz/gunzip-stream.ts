import { createGunzip, type Gunzip } from 'node:zlib';

/** Output held before the consumer takes it; the inflater pauses beyond this. */
const MAX_QUEUED_OUTPUT = 1024 * 1024;

/**
 * An incremental gunzip with bounded output: feed compressed pieces with `write`, and take the output
 * each piece produces as batches of buffers. zlib pauses while a batch waits, so memory stays bounded
 * however well the input compresses. Handles concatenated gzip members. Output buffers are never reused.
 */
export class StreamingGunzip {
  private readonly gz: Gunzip;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private failure: Error | undefined;
  private ended = false;
  private wake: (() => void) | undefined;

  constructor() {
    this.gz = createGunzip({ chunkSize: 64 * 1024 });
    this.gz.on('data', (out: Buffer) => {
      this.queue.push(out);
      this.queuedBytes += out.length;
      if (this.queuedBytes >= MAX_QUEUED_OUTPUT) this.gz.pause();
      this.notify();
    });
    this.gz.on('error', (error: Error) => {
      this.failure ??= error;
      this.notify();
    });
    this.gz.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  /** Feeds compressed bytes; yields the output they produce. Throws zlib's error on bad data. */
  async *write(input: Uint8Array): AsyncGenerator<Buffer[]> {
    let written = false;
    this.gz.write(input, (error) => {
      if (error) this.failure ??= error;
      written = true;
      this.notify();
    });
    yield* this.drain(() => written);
  }

  /** Ends the input; yields the remaining output. Throws when the gzip data is incomplete. */
  async *finish(): AsyncGenerator<Buffer[]> {
    this.gz.end();
    yield* this.drain(() => this.ended);
  }

  /** Stops inflating and frees zlib's memory. */
  destroy(): void {
    this.gz.destroy();
  }

  private async *drain(isDone: () => boolean): AsyncGenerator<Buffer[]> {
    for (;;) {
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        this.queuedBytes = 0;
        yield batch;
        if (this.gz.isPaused()) this.gz.resume();
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (isDone()) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
