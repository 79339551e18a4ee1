/**
 * Types the downloader shares with its callers. The entry and decoder shapes are structural so that the
 * image index (IndexEntry) and the eStargz decoder (decodeMembers) plug in without an adapter.
 */

import type { ChunkSink, MemberRequest } from '../estargz/decode.js';
import type { TocChunk } from '../estargz/types.js';

/** The entry types the downloader can create (hardlinks are `reg` entries with `hardlinkOf`). */
export type DownloadEntryType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

/** One path to create; a structural subset of the image index's IndexEntry. */
export interface DownloadEntry {
  /** normalised path in the image, no leading `/` */
  path: string;
  type: DownloadEntryType;
  /** permission bits incl. setuid/setgid/sticky */
  mode: number;
  uid: number;
  gid: number;
  /** file size for `reg` */
  size: number;
  /** RFC 3339, when known */
  modtime?: string;
  /** symlink target exactly as stored */
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  /** sha256 of the whole file, `sha256:<hex>` */
  digest?: string;
  /** payload pieces in file order (for a hardlink: its target's) */
  chunks: readonly TocChunk[];
  /** digest of the layer blob the chunks live in */
  layerDigest: string;
  /** extended attributes (not written: Node has no xattr API; logged at debug level) */
  xattrs?: Record<string, Uint8Array>;
  /** for a hardlink: the image path of the file it links to (same layer) */
  hardlinkOf?: string;
  /** the TOC name holding the content (the path itself, or a hardlink's target even when not in view) */
  sourcePath?: string;
}

/** The decoder's contract, defined once beside the decoder. */
export type { ChunkSink, MemberRequest };

/**
 * Streams `body` (compressed bytes starting at blob offset `bodyStart`) and, for each request in order
 * (sorted by offset, innerOffset), opens a sink and writes exactly that chunk's bytes, verifying its digest
 * unless `verify` is false; on failure every opened sink gets `abort`. (estargz/decode.ts `decodeMembers`.)
 */
export type DecodeMembers = <T>(
  body: AsyncIterable<Uint8Array>,
  bodyStart: number,
  requests: readonly MemberRequest<T>[],
  openSink: (request: MemberRequest<T>) => ChunkSink | Promise<ChunkSink>,
  options?: { signal?: AbortSignal; verify?: boolean },
) => Promise<void>;

/** A warning the library reports instead of printing. */
export interface DownloadWarning {
  /** device-skipped: a device or fifo was not created (not root); owner-not-kept: chown failed */
  code: 'device-skipped' | 'owner-not-kept';
  path: string;
  message: string;
}

export interface DownloadProgress {
  bytesFetched: number;
  bytesWritten: number;
  filesDone: number;
  filesTotal: number;
  currentFile?: string;
  bytesPerSecond: number;
}

export type DownloadEvent =
  | ({ type: 'progress' } & DownloadProgress)
  | { type: 'warning'; warning: DownloadWarning }
  | { type: 'fallback-whole-blob'; layerDigest: string }
  | { type: 'file-done'; path: string };
