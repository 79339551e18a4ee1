/** What to download and how: the input of `Downloader.startDownload`, and what it gives back. */

import type { BlobSource } from '../registry/types.js';
import type { DownloadEntry, DownloadEvent, DownloadWarning } from './types.js';

export interface DownloadOptions {
  /** range requests running at once (default 4) */
  concurrency?: number;
  /** do not check chunk and file digests (--skip-verify) */
  skipVerify?: boolean;
  /** keep uid/gid from the image (--same-owner) */
  preserveOwner?: boolean;
  /** override root detection (setuid/setgid bits, devices); default: the process's uid is 0 */
  isRoot?: boolean;
  /** merge members separated by at most this many bytes into one request (default 64 KiB) */
  maxGap?: number;
  /** do not grow a merged request beyond this many bytes (default 16 MiB) */
  maxRangeBytes?: number;
  /**
   * keep verified progress in `.starget-resume/` inside the output directory so that a rerun after an
   * interruption fetches only what is missing (default true); false throws away such state and starts
   * afresh (--no-resume). The state is removed after a successful run.
   */
  resume?: boolean;
  /** resume state untouched for longer than this is thrown away (default a week) */
  resumeMaxAgeMs?: number;
  /**
   * write small files (one chunk, up to 512 KiB) with synchronous system calls, in slices of about 10 ms
   * between which the event loop runs (default true: several times faster for trees of many small files,
   * where each thread-pool round trip costs more than the call itself); false: every call goes through
   * libuv's thread pool and the event loop is never held (where directories cannot be held open, always)
   */
  blockingWrites?: boolean;
  /**
   * cancels the download: `done` rejects with E_ABORTED, temporary files are removed, verified progress
   * stays in the resume state
   */
  signal?: AbortSignal;
  /** progress, warnings and fallbacks; the library never prints */
  onEvent?: (event: DownloadEvent) => void;
}

/** A set of entries (from the image index) to write under `outDir`. */
export interface DownloadJob<E extends DownloadEntry = DownloadEntry> {
  entries: readonly E[];
  outDir: string;
  /** where an entry lands, relative to `outDir` (default: its path in the image) */
  outputPathOf?: (entry: E) => string;
  options?: DownloadOptions;
}

export interface DownloadResult {
  /** regular files written (hardlinks not included) */
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** devices and fifos created */
  specials: number;
  /** entries skipped with a warning */
  skipped: number;
  /** compressed bytes received */
  bytesFetched: number;
  /** file bytes written */
  bytesWritten: number;
  /** range requests made */
  requests: number;
  /** files an earlier, interrupted run had completed (checked against their digest, not fetched again) */
  resumedFiles: number;
  /** file bytes taken from an earlier run (completed files and verified chunks of partial files) */
  resumedBytes: number;
  /** layers the registry sent whole (Range ignored) */
  wholeBlobLayers: string[];
  warnings: DownloadWarning[];
  durationMs: number;
}

export interface DownloadHandle {
  /** settles when the download is finished; rejects with a StargzError */
  done: Promise<DownloadResult>;
  /** stops the download (same as aborting `options.signal`) */
  cancel(reason?: unknown): void;
}

/** Where the blobs of each layer are read from: a map or a function from layer digest to source. */
export type BlobSourceLookup =
  | ReadonlyMap<string, BlobSource>
  | ((layerDigest: string) => BlobSource | undefined);
