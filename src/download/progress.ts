/** Counts bytes and files during a download and emits throttled progress events. */

import type { DownloadEvent } from './types.js';

/** Progress events come at most this often (plus one per finished file and a final one). */
const MIN_INTERVAL_MS = 100;

export class ProgressTracker {
  readonly #filesTotal: number;
  readonly #emit: (event: DownloadEvent) => void;
  readonly #started = Date.now();
  #bytesFetched = 0;
  #bytesWritten = 0;
  #filesDone = 0;
  #currentFile: string | undefined;
  #lastEmit = 0;

  constructor(filesTotal: number, emit: (event: DownloadEvent) => void) {
    this.#filesTotal = filesTotal;
    this.#emit = emit;
  }

  fetched(bytes: number): void {
    this.#bytesFetched += bytes;
    this.#maybeEmit();
  }

  written(bytes: number, path: string): void {
    this.#bytesWritten += bytes;
    this.#currentFile = path;
    this.#maybeEmit();
  }

  fileDone(path: string): void {
    this.#filesDone++;
    this.#currentFile = path;
    this.#emit({ type: 'file-done', path });
    this.flush();
  }

  /** Emits a progress event now. */
  flush(): void {
    this.#lastEmit = Date.now();
    const seconds = (this.#lastEmit - this.#started) / 1000;
    this.#emit({
      type: 'progress',
      bytesFetched: this.#bytesFetched,
      bytesWritten: this.#bytesWritten,
      filesDone: this.#filesDone,
      filesTotal: this.#filesTotal,
      currentFile: this.#currentFile,
      bytesPerSecond: seconds > 0 ? Math.round(this.#bytesFetched / seconds) : 0,
    });
  }

  totals(): { bytesFetched: number; bytesWritten: number } {
    return { bytesFetched: this.#bytesFetched, bytesWritten: this.#bytesWritten };
  }

  #maybeEmit(): void {
    if (Date.now() - this.#lastEmit >= MIN_INTERVAL_MS) this.flush();
  }
}
