/**
 * Small files written in the background: the decoder hands over a complete file held in memory and goes on
 * with the next one while a bounded number of writes (and bytes held for them) are in flight. The first
 * failure is kept and thrown to the next caller, and by `drain`.
 *
 * With `blocking`, writes are told to make their system calls synchronously, and the queue gives the event
 * loop a turn after every SLICE_MS of such work: each thread-pool round trip costs more than a small
 * file's system call itself, so this is several times faster, and the event loop is never held for longer
 * than a slice plus one file's calls.
 */

import { toStargzError } from '../errors.js';

export interface WriteQueueOptions {
  /** writes in flight at most */
  maxWrites: number;
  /** bytes held by writes in flight at most (one write larger than this runs alone) */
  maxBytes: number;
  /** tell writes to use synchronous system calls, in slices (see above) */
  blocking: boolean;
}

/** Longest stretch of synchronous writing before the event loop gets a turn. */
const SLICE_MS = 10;

export class WriteQueue {
  readonly #options: WriteQueueOptions;
  readonly #running = new Set<Promise<void>>();
  #bytes = 0;
  #failure: unknown;
  #sliceStart = performance.now();
  /** callers waiting for room: all are woken when a write ends, and check again */
  #waiting: (() => void)[] = [];

  constructor(options: WriteQueueOptions) {
    this.#options = options;
  }

  /**
   * Starts `write` (holding `bytes` of memory) once there is room, and returns without waiting for it to
   * finish; `write` is told whether to block. Throws the failure of an earlier write instead of starting
   * this one.
   */
  async add(bytes: number, write: (blocking: boolean) => Promise<void>): Promise<void> {
    this.#throwIfFailed();
    if (this.#options.blocking && performance.now() - this.#sliceStart >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.#sliceStart = performance.now();
      this.#throwIfFailed();
    }
    while (
      this.#running.size > 0 &&
      (this.#running.size >= this.#options.maxWrites || this.#bytes + bytes > this.#options.maxBytes)
    ) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      this.#throwIfFailed();
    }
    this.#bytes += bytes;
    const running: Promise<void> = write(this.#options.blocking)
      .catch((error: unknown) => {
        this.#failure ??= error;
      })
      .finally(() => {
        this.#bytes -= bytes;
        this.#running.delete(running);
        const waiting = this.#waiting;
        this.#waiting = [];
        for (const wakeUp of waiting) wakeUp();
      });
    this.#running.add(running);
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.#throwIfFailed();
  }

  /** Waits for every write, whatever the outcome (before cleaning up after a failure). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw toStargzError(this.#failure);
  }
}
