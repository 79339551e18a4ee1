/**
 * `Downloader.startDownload`: plans the range requests for a job, runs them on a worker pool, decodes each
 * response as it streams, and writes everything through one SafeWriter (directories first, then file
 * contents, then hardlinks, symlinks and special files, then directory metadata).
 */

import { StargzError, toStargzError } from '../errors.js';
import { decodeMembers } from '../estargz/decode.js';
import { type Logger, silentLogger } from '../log.js';
import type { BlobRangeResponse, BlobSource } from '../registry/types.js';
import { checkRangeResponse, countBytes, parseModtime, resolveSource } from './_io.js';
import { WriteQueue } from './_write-queue.js';
import { FileAssembler } from './file-assembler.js';
import type { BlobSourceLookup, DownloadHandle, DownloadJob, DownloadResult } from './job.js';
import { safeRelativeParts } from './paths.js';
import { type ChunkTag, contentKey, planDownload, planFileRanges, type RangePlan } from './plan.js';
import { runPool } from './pool.js';
import { ProgressTracker } from './progress.js';
import { RESUME_DIR, ResumeState, resumeKey } from './resume.js';
import { type EntryMetadata, SafeWriter } from './safe-writer.js';
import type {
  ChunkSink,
  DecodeMembers,
  DownloadEntry,
  DownloadEvent,
  DownloadWarning,
  MemberRequest,
} from './types.js';

/** Files in one chunk up to this size are gathered in memory and written whole, in the background. */
const SMALL_FILE_BYTES = 512 * 1024;
/** Background writes of small files in flight at most, and the memory they may hold. */
const SMALL_WRITES = 16;
const SMALL_WRITE_BYTES = 8 * 1024 * 1024;

export interface DownloaderOptions {
  /** where each layer's blob is read from */
  sources: BlobSourceLookup;
  /** the eStargz member decoder (default: estargz/decode.ts `decodeMembers`) */
  decodeMembers?: DecodeMembers;
  logger?: Logger;
}

/** Per-layer bookkeeping for the whole-blob fallback. */
interface LayerState {
  ranges: RangePlan<ChunkTag>[];
  /** ranges a worker has taken (directly or into a whole-blob pass) */
  taken: Set<RangePlan<ChunkTag>>;
  /** ranges whose request is sent but not answered yet */
  waiting: Map<RangePlan<ChunkTag>, WaitingRequest>;
  whole: boolean;
}

interface WaitingRequest {
  controller: AbortController;
  /** taken over by a whole-blob pass: the answer is dropped */
  absorbed: boolean;
}

export class Downloader {
  readonly #sources: BlobSourceLookup;
  readonly #decode: DecodeMembers;
  readonly #logger: Logger;

  constructor(options: DownloaderOptions) {
    this.#sources = options.sources;
    this.#decode = options.decodeMembers ?? decodeMembers;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Starts writing the job's entries under its output directory. `done` resolves with counts once every
   * file is committed and directory metadata restored; on failure or cancellation no temporary file is left
   * and no file appears under its final name unless complete and verified.
   */
  startDownload<E extends DownloadEntry>(job: DownloadJob<E>): DownloadHandle {
    const controller = new AbortController();
    const outer = job.options?.signal;
    const forward = () => controller.abort(outer?.reason);
    if (outer?.aborted) forward();
    outer?.addEventListener('abort', forward, { once: true });
    const done = this.#run(job, controller.signal).finally(() =>
      outer?.removeEventListener('abort', forward),
    );
    return { done, cancel: (reason) => controller.abort(reason) };
  }

  async #run<E extends DownloadEntry>(job: DownloadJob<E>, signal: AbortSignal): Promise<DownloadResult> {
    const options = job.options ?? {};
    const emit = (event: DownloadEvent) => options.onEvent?.(event);
    const warnings: DownloadWarning[] = [];
    const outputPathOf = (entry: DownloadEntry) =>
      job.outputPathOf ? job.outputPathOf(entry as E) : entry.path;
    const entries = uniqueEntries(job.entries, outputPathOf);
    const planOptions = {
      maxGap: options.maxGap,
      maxRangeBytes: options.maxRangeBytes,
      verify: !options.skipVerify,
    };
    const plan = planDownload(entries, planOptions);
    const progress = new ProgressTracker(
      plan.files.length + plan.hardlinks.length + plan.symlinks.length + plan.specials.length,
      emit,
    );
    const result: DownloadResult = {
      files: 0,
      dirs: 0,
      symlinks: 0,
      hardlinks: 0,
      specials: 0,
      skipped: 0,
      bytesFetched: 0,
      bytesWritten: 0,
      requests: 0,
      resumedFiles: 0,
      resumedBytes: 0,
      wholeBlobLayers: [],
      warnings,
      durationMs: 0,
    };
    const withXattrs = entries.filter((entry) => entry.xattrs && Object.keys(entry.xattrs).length > 0);
    if (withXattrs.length > 0) {
      this.#logger.debug('extended attributes are not written', { entries: withXattrs.length });
    }
    const started = Date.now();
    const writer = await SafeWriter.create(job.outDir, {
      preserveOwner: options.preserveOwner,
      isRoot: options.isRoot,
      logger: this.#logger,
      onWarning: (warning) => {
        warnings.push(warning);
        emit({ type: 'warning', warning });
      },
    });
    const assemblers = new Map<object, FileAssembler>();
    const smallWrites = new WriteQueue({
      maxWrites: SMALL_WRITES,
      maxBytes: SMALL_WRITE_BYTES,
      blocking: options.blockingWrites !== false,
    });
    /** files an earlier run left something of: reused whole (empty set) or these chunks */
    const present = new Map<object, ReadonlySet<number>>();
    let state: ResumeState | undefined;
    try {
      state = await ResumeState.open(writer, {
        resume: options.resume !== false,
        maxAgeMs: options.resumeMaxAgeMs,
        logger: this.#logger,
      });
      throwIfAborted(signal);
      for (const dir of plan.dirs) {
        await writer.mkdir(outputPathOf(dir), metadataOf(dir));
        result.dirs++;
      }
      for (const file of plan.files) {
        const assembler = new FileAssembler(
          writer,
          file.entry,
          outputPathOf(file.entry),
          metadataOf(file.entry),
          {
            verify: !options.skipVerify,
            onBytesWritten: (bytes) => progress.written(bytes, file.entry.path),
            resume: { state, key: resumeKey(contentKey(file.entry)) },
            // temporary files in the resume directory: a killed run leaves none in the tree
            smallFiles: { queue: smallWrites, maxBytes: SMALL_FILE_BYTES, tempIn: RESUME_DIR },
            onCommitted: () => progress.fileDone(file.entry.path),
          },
        );
        assemblers.set(file, assembler);
        if (file.entry.chunks.length === 0) {
          await assembler.commitEmpty();
          continue;
        }
        const restored = await assembler.restore();
        if (restored.reused || restored.present.size > 0) {
          if (restored.reused) result.resumedFiles++;
          result.resumedBytes += restored.presentBytes;
          present.set(file, restored.present);
        }
      }
      const { ranges } = planFileRanges(plan.files, {
        ...planOptions,
        skipChunk: (file, index) => {
          const have = present.get(file);
          return have !== undefined && (have.size === 0 || have.has(index));
        },
      });
      const openSink = (request: MemberRequest<ChunkTag>) =>
        assemblers.get(request.tag.file)!.openChunk(request.tag.index);
      const layers = layerStates(ranges);
      await runPool(
        ranges,
        (range, poolSignal) =>
          this.#fetchRange(range, !options.skipVerify, layers, openSink, poolSignal, result, progress, emit),
        { concurrency: options.concurrency, signal },
      );
      await smallWrites.drain();
      for (const assembler of assemblers.values()) {
        if (!assembler.committed) {
          throw new StargzError(
            'E_CORRUPT',
            `${assembler.entry.path} was not complete after its ranges were read`,
            {
              details: { path: assembler.entry.path, layer: assembler.entry.layerDigest },
            },
          );
        }
      }
      result.files = assemblers.size;
      for (const { entry, target } of plan.hardlinks) {
        throwIfAborted(signal);
        await writer.hardlink(outputPathOf(entry), outputPathOf(target.entry));
        result.hardlinks++;
        progress.fileDone(entry.path);
      }
      for (const entry of plan.symlinks) {
        throwIfAborted(signal);
        await writer.symlink(outputPathOf(entry), entry.linkName ?? '', metadataOf(entry));
        result.symlinks++;
        progress.fileDone(entry.path);
      }
      for (const entry of plan.specials) {
        throwIfAborted(signal);
        const kind = entry.type as 'char' | 'block' | 'fifo';
        const device = { major: entry.devMajor ?? 0, minor: entry.devMinor ?? 0 };
        if (await writer.special(outputPathOf(entry), kind, metadataOf(entry), device)) result.specials++;
        else result.skipped++;
        progress.fileDone(entry.path);
      }
      await writer.finish();
      await state.clear();
      progress.flush();
      return { ...result, ...progress.totals(), durationMs: Date.now() - started };
    } catch (error) {
      // writes in flight end (committed whole, or removed) before anything is cleaned up
      await smallWrites.settle();
      await Promise.all([...assemblers.values()].map((assembler) => assembler.abort(error)));
      await writer.abortAll();
      await state?.close();
      await writer.finish().catch(() => {});
      throw signal.aborted && !StargzError.is(error)
        ? new StargzError('E_ABORTED', 'the download was cancelled', { cause: error })
        : toStargzError(error, 'E_IO');
    }
  }

  /**
   * Reads one range and cuts its chunks out. If the registry sends the whole blob instead, this worker
   * extracts from it, in one pass, every range of that layer not yet taken, and also those whose request
   * is still waiting for an answer (they are cancelled); ranges already being decoded finish on their own.
   */
  async #fetchRange(
    range: RangePlan<ChunkTag>,
    verify: boolean,
    layers: Map<string, LayerState>,
    openSink: (request: MemberRequest<ChunkTag>) => ChunkSink,
    signal: AbortSignal,
    result: DownloadResult,
    progress: ProgressTracker,
    emit: (event: DownloadEvent) => void,
  ): Promise<void> {
    const layer = layers.get(range.layerDigest)!;
    if (layer.taken.has(range)) return;
    layer.taken.add(range);
    const source: BlobSource = resolveSource(this.#sources, range.layerDigest);
    const waiting: WaitingRequest = { controller: new AbortController(), absorbed: false };
    const onAbort = () => waiting.controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    layer.waiting.set(range, waiting);
    let response: BlobRangeResponse;
    try {
      response = await source.readRange(range.start, range.end, { signal: waiting.controller.signal });
    } catch (error) {
      if (waiting.absorbed && !signal.aborted) return;
      throw error;
    } finally {
      layer.waiting.delete(range);
      signal.removeEventListener('abort', onAbort);
    }
    result.requests++;
    if (waiting.absorbed) {
      await response.body[Symbol.asyncIterator]().return?.();
      return;
    }
    checkRangeResponse(response, range.start, range.end, range.layerDigest);
    const body = countBytes(response.body, (bytes) => progress.fetched(bytes));
    if (response.kind === 'partial') {
      await this.#decode(body, range.start, range.requests, openSink, { signal, verify });
      return;
    }
    let requests = range.requests;
    if (!layer.whole) {
      layer.whole = true;
      result.wholeBlobLayers.push(range.layerDigest);
      this.#logger.info('registry ignored Range: reading the whole layer once', { layer: range.layerDigest });
      emit({ type: 'fallback-whole-blob', layerDigest: range.layerDigest });
      const absorbed = layer.ranges.filter((other) => !layer.taken.has(other));
      for (const [other, state] of layer.waiting) {
        state.absorbed = true;
        state.controller.abort();
        absorbed.push(other);
      }
      for (const other of absorbed) layer.taken.add(other);
      requests = [range, ...absorbed].flatMap((r) => r.requests).sort(byBlobPosition);
    }
    await this.#decode(body, 0, requests, openSink, { signal, verify });
  }
}

function layerStates(ranges: RangePlan<ChunkTag>[]): Map<string, LayerState> {
  const layers = new Map<string, LayerState>();
  for (const range of ranges) {
    let layer = layers.get(range.layerDigest);
    if (!layer) {
      layer = { ranges: [], taken: new Set(), waiting: new Map(), whole: false };
      layers.set(range.layerDigest, layer);
    }
    layer.ranges.push(range);
  }
  return layers;
}

function byBlobPosition(a: MemberRequest<ChunkTag>, b: MemberRequest<ChunkTag>): number {
  return a.chunk.offset - b.chunk.offset || a.chunk.innerOffset - b.chunk.innerOffset;
}

function metadataOf(entry: DownloadEntry): EntryMetadata {
  return { mode: entry.mode, mtime: parseModtime(entry.modtime), uid: entry.uid, gid: entry.gid };
}

/**
 * Checks every output path before anything is written: refuses unsafe paths (`..`, absolute, NUL), two
 * different entries for one output path (the same object twice is dropped), and an entry under a
 * non-directory entry (it would be written through a symlink or into a file).
 */
function uniqueEntries<E extends DownloadEntry>(
  entries: readonly E[],
  outputPathOf: (entry: E) => string,
): E[] {
  const byPath = new Map<string, E>();
  for (const entry of entries) {
    const path = safeRelativeParts(outputPathOf(entry)).join('/');
    const existing = byPath.get(path);
    if (existing && existing !== entry) {
      throw new StargzError('E_USAGE', `two entries would be written to ${path}`, { details: { path } });
    }
    byPath.set(path, entry);
  }
  for (const [path, entry] of byPath) {
    const parts = path.split('/');
    if (parts[0] === RESUME_DIR) {
      throw new StargzError(
        'E_UNSAFE_PATH',
        `refusing to write ${JSON.stringify(entry.path)}: ${RESUME_DIR} is where starget keeps its resume state; extract it to another name`,
        { details: { path: entry.path } },
      );
    }
    for (let i = 1; i < parts.length; i++) {
      const ancestor = byPath.get(parts.slice(0, i).join('/'));
      if (ancestor && ancestor.type !== 'dir') {
        throw new StargzError(
          'E_UNSAFE_PATH',
          `refusing to write ${JSON.stringify(entry.path)}: it lies under ${JSON.stringify(ancestor.path)}, which is a ${ancestor.type}`,
          { details: { path: entry.path, under: ancestor.path } },
        );
      }
    }
  }
  return [...byPath.values()];
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw new StargzError('E_ABORTED', 'the download was cancelled', { cause: signal.reason });
}
