/**
 * The download plan (pure): which entries become directories, fetched files, hardlinks, symlinks and
 * special files, and which byte ranges of which layer blobs to read, with neighbouring gzip members
 * coalesced into one range request.
 */

import { StargzError } from '../errors.js';
import type { TocChunk } from '../estargz/types.js';
import type { DownloadEntry, MemberRequest } from './types.js';

/** A gap of up to this many bytes between two members is read (and thrown away) rather than split. */
export const DEFAULT_MAX_GAP = 64 * 1024;
/** A range grows by coalescing only up to this many bytes (one member larger than this is read alone). */
export const DEFAULT_MAX_RANGE_BYTES = 16 * 1024 * 1024;

export interface PlanOptions {
  maxGap?: number;
  maxRangeBytes?: number;
  /** put each chunk's `chunkDigest` into its request (false with --skip-verify) */
  verify?: boolean;
}

/** A regular file whose bytes are fetched once (other names of it are hardlinked afterwards). */
export interface PlannedFile<E extends DownloadEntry = DownloadEntry> {
  entry: E;
}

/** What a member request carries: the file and the index of the chunk in `entry.chunks`. */
export interface ChunkTag<E extends DownloadEntry = DownloadEntry> {
  file: PlannedFile<E>;
  index: number;
}

/** One range request `[start, end)` of one layer blob and the chunks to cut out of it, in blob order. */
export interface RangePlan<T> {
  layerDigest: string;
  start: number;
  end: number;
  requests: MemberRequest<T>[];
}

export interface DownloadPlan<E extends DownloadEntry = DownloadEntry> {
  /** directories, parents before children */
  dirs: E[];
  /** regular files to fetch (empty files included: they have no chunks) */
  files: PlannedFile<E>[];
  /** hardlinks to create once their target file is committed */
  hardlinks: { entry: E; target: PlannedFile<E> }[];
  symlinks: E[];
  /** char, block and fifo entries */
  specials: E[];
  /** range requests, grouped by layer and in blob order within a layer */
  ranges: RangePlan<ChunkTag<E>>[];
  /** sum of the compressed bytes the ranges cover */
  bytesToFetch: number;
}

/** Sorts the entries into what to create and plans the range requests for the file contents. */
export function planDownload<E extends DownloadEntry>(
  entries: readonly E[],
  options: PlanOptions = {},
): DownloadPlan<E> {
  const dirs: E[] = [];
  const symlinks: E[] = [];
  const specials: E[] = [];
  const files: PlannedFile<E>[] = [];
  const hardlinks: { entry: E; target: PlannedFile<E> }[] = [];
  const groups = new Map<string, E[]>();

  for (const entry of entries) {
    switch (entry.type) {
      case 'dir':
        dirs.push(entry);
        break;
      case 'symlink':
        symlinks.push(entry);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        specials.push(entry);
        break;
      case 'reg': {
        checkChunks(entry);
        const key = contentKey(entry);
        const group = groups.get(key);
        if (group) group.push(entry);
        else groups.set(key, [entry]);
        break;
      }
    }
  }
  // Names of one content (hardlinks in the image) are fetched once: the original name when it is wanted,
  // else the first; the other names are hardlinked to it.
  for (const group of groups.values()) {
    const owner =
      group.find((entry) => entry.hardlinkOf === undefined && sourceOf(entry) === entry.path) ?? group[0]!;
    const file = { entry: owner };
    files.push(file);
    for (const entry of group) if (entry !== owner) hardlinks.push({ entry, target: file });
  }
  dirs.sort((a, b) => depth(a.path) - depth(b.path));

  const { ranges, bytesToFetch } = planFileRanges(files, options);
  return { dirs, files, hardlinks, symlinks, specials, ranges, bytesToFetch };
}

/**
 * The range requests that fetch the chunks of `files`, leaving out those `skipChunk` says are already
 * there (resumed from an earlier run); grouped by layer, in blob order within a layer.
 */
export function planFileRanges<E extends DownloadEntry>(
  files: readonly PlannedFile<E>[],
  options: PlanOptions & { skipChunk?: (file: PlannedFile<E>, index: number) => boolean } = {},
): { ranges: RangePlan<ChunkTag<E>>[]; bytesToFetch: number } {
  const requestsByLayer = new Map<string, MemberRequest<ChunkTag<E>>[]>();
  for (const file of files) {
    file.entry.chunks.forEach((chunk, index) => {
      if (options.skipChunk?.(file, index)) return;
      const request: MemberRequest<ChunkTag<E>> = { chunk, tag: { file, index }, name: file.entry.path };
      if (options.verify !== false && chunk.chunkDigest) request.expectedDigest = chunk.chunkDigest;
      let list = requestsByLayer.get(file.entry.layerDigest);
      if (!list) {
        list = [];
        requestsByLayer.set(file.entry.layerDigest, list);
      }
      list.push(request);
    });
  }
  const ranges: RangePlan<ChunkTag<E>>[] = [];
  for (const [layerDigest, requests] of requestsByLayer) {
    ranges.push(...coalesceRanges(layerDigest, requests, options));
  }
  const bytesToFetch = ranges.reduce((sum, range) => sum + (range.end - range.start), 0);
  return { ranges, bytesToFetch };
}

/**
 * Sorts one layer's member requests by blob position and merges neighbours into ranges: the next member
 * joins the current range when it starts at most `maxGap` bytes after the range's end and the range stays
 * within `maxRangeBytes`. Members that overlap the range (several chunks in one gzip member) always join,
 * since a member cannot be decoded from its middle.
 */
export function coalesceRanges<T>(
  layerDigest: string,
  requests: readonly MemberRequest<T>[],
  options: Pick<PlanOptions, 'maxGap' | 'maxRangeBytes'> = {},
): RangePlan<T>[] {
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  const maxRangeBytes = options.maxRangeBytes ?? DEFAULT_MAX_RANGE_BYTES;
  const sorted = [...requests].sort(
    (a, b) =>
      a.chunk.offset - b.chunk.offset ||
      a.chunk.innerOffset - b.chunk.innerOffset ||
      a.chunk.chunkOffset - b.chunk.chunkOffset,
  );
  const ranges: RangePlan<T>[] = [];
  let current: RangePlan<T> | undefined;
  for (const request of sorted) {
    const { offset, compressedEnd } = request.chunk;
    if (current) {
      const overlaps = offset < current.end;
      const end = Math.max(current.end, compressedEnd);
      const fits = offset - current.end <= maxGap && end - current.start <= maxRangeBytes;
      if (overlaps || fits) {
        current.end = end;
        current.requests.push(request);
        continue;
      }
    }
    current = { layerDigest, start: offset, end: compressedEnd, requests: [request] };
    ranges.push(current);
  }
  return ranges;
}

function checkChunks(entry: DownloadEntry): void {
  let covered = 0;
  for (const chunk of entry.chunks) {
    if (chunk.chunkOffset !== covered || chunk.chunkSize <= 0 || chunk.compressedEnd <= chunk.offset) {
      throw invalid(entry, chunk);
    }
    covered += chunk.chunkSize;
  }
  if (covered !== entry.size) throw invalid(entry);
}

function invalid(entry: DownloadEntry, chunk?: TocChunk): StargzError {
  const what = chunk
    ? `a chunk at file offset ${chunk.chunkOffset} is inconsistent`
    : 'its chunks do not cover it';
  return new StargzError('E_TOC_INVALID', `the TOC entry for ${entry.path} is invalid: ${what}`, {
    details: { path: entry.path, layer: entry.layerDigest },
  });
}

/** The TOC name holding an entry's content: its hardlink target, or its own name. */
function sourceOf(entry: DownloadEntry): string {
  return entry.hardlinkOf ?? entry.sourcePath ?? entry.path;
}

/** Entries with one key share their bytes: same layer, same source name, same chunks and digest. */
export function contentKey(entry: DownloadEntry): string {
  const chunks = entry.chunks.map((c) => `${c.offset}+${c.innerOffset}:${c.chunkSize}`).join(',');
  return [entry.layerDigest, sourceOf(entry), entry.size, entry.digest ?? '', chunks].join('\0');
}

function depth(path: string): number {
  return path.split('/').length;
}
