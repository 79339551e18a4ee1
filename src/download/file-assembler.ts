/**
 * Puts one regular file together from its chunks, which may arrive from different range requests and in
 * any order: each chunk is written at its file offset into the writer's temporary file; when the last chunk
 * ends, the whole-file digest is checked (when known and verification is on) and the file is committed.
 * A small file in one chunk is instead gathered in memory and written in one go in the background
 * (`smallFiles`), so that the decoder goes on with the next file meanwhile.
 */

import { createHash, type Hash } from 'node:crypto';
import { StargzError } from '../errors.js';
import type { TocChunk } from '../estargz/types.js';
import type { WriteQueue } from './_write-queue.js';
import type { ResumeState } from './resume.js';
import type { EntryMetadata, FileWriter, SafeWriter } from './safe-writer.js';
import type { ChunkSink, DownloadEntry } from './types.js';

export interface FileAssemblerOptions {
  /** check the whole-file digest */
  verify: boolean;
  /** called with the size of every piece written */
  onBytesWritten?: (bytes: number) => void;
  /** write into the resumable partial file of `key` and journal verified chunks */
  resume?: { state: ResumeState; key: string };
  /**
   * Files in one chunk of at most `maxBytes` (and empty files) are held in memory and written whole by
   * `queue`, with their temporary file in `tempIn` (relative to the output directory).
   */
  smallFiles?: { queue: WriteQueue; maxBytes: number; tempIn?: string };
  /** called once the file is under its final name (committed now, or reused from an earlier run) */
  onCommitted?: () => void;
}

/** What an earlier run left that this file could reuse. */
export interface RestoreResult {
  /** the file was already committed under its final name and still matches its digest */
  reused: boolean;
  /** chunk indexes found verified in the partial file (not to be fetched) */
  present: ReadonlySet<number>;
  /** bytes of those chunks */
  presentBytes: number;
}

export class FileAssembler {
  readonly entry: DownloadEntry;
  readonly outputPath: string;
  readonly #writer: SafeWriter;
  readonly #meta: EntryMetadata;
  readonly #options: FileAssemblerOptions;
  #file: Promise<FileWriter> | undefined;
  #remaining: number;
  readonly #opened = new Set<number>();
  /** sha256 over the bytes written so far while they arrive in file order */
  #hash: Hash | undefined = createHash('sha256');
  #hashedUpTo = 0;
  /** writing: handed to the write queue, which commits it or fails */
  #state: 'open' | 'writing' | 'committed' | 'failed' = 'open';
  /** the content is wrong: drop the partial file instead of keeping it for a later run */
  #discard = false;
  #failure: unknown;

  constructor(
    writer: SafeWriter,
    entry: DownloadEntry,
    outputPath: string,
    meta: EntryMetadata,
    options: FileAssemblerOptions,
  ) {
    this.#writer = writer;
    this.entry = entry;
    this.outputPath = outputPath;
    this.#meta = meta;
    this.#options = options;
    this.#remaining = entry.chunks.length;
  }

  get committed(): boolean {
    return this.#state === 'committed';
  }

  /** Writes and commits a file without chunks (an empty file). */
  async commitEmpty(): Promise<void> {
    if (this.entry.chunks.length !== 0)
      throw new StargzError('E_INTERNAL', `${this.entry.path} is not empty`);
    const small = this.#options.smallFiles;
    if (small) {
      this.#state = 'writing';
      await small.queue.add(0, (blocking) => this.#writeSmall(Buffer.alloc(0), blocking));
      return;
    }
    await this.#finalize();
  }

  /**
   * Takes over what an earlier run left: a file committed under its final name that still hashes to its
   * digest is reused as it is; chunks journaled as verified are re-hashed from the partial file against
   * their chunkDigest and kept when they match (the others are fetched again). Commits the file when
   * nothing is missing. Call before any chunk is opened.
   */
  async restore(): Promise<RestoreResult> {
    const none: RestoreResult = { reused: false, present: new Set(), presentBytes: 0 };
    const resume = this.#options.resume;
    if (!resume || this.entry.chunks.length === 0) return none;
    const { digest, size } = this.entry;
    if (digest && resume.state.wasCommitted(resume.key, this.outputPath)) {
      if (await this.#writer.reuseFile(this.outputPath, size, digest)) {
        this.#state = 'committed';
        this.#remaining = 0;
        this.#options.onCommitted?.();
        return { reused: true, present: new Set(), presentBytes: size };
      }
    }
    const journaled = [...resume.state.verifiedChunks(resume.key)].filter(
      (index) => this.entry.chunks[index]?.chunkDigest !== undefined,
    );
    if (journaled.length === 0) return none;
    const file = await this.#open();
    const present = new Set<number>();
    let presentBytes = 0;
    for (const index of journaled) {
      const chunk = this.entry.chunks[index]!;
      const expected = chunk.chunkDigest!;
      const algorithm = expected.slice(0, expected.indexOf(':'));
      if (algorithm !== 'sha256' && algorithm !== 'sha512') continue;
      const hash = createHash(algorithm);
      let length = 0;
      for await (const piece of file.readBack(chunk.chunkOffset, chunk.chunkOffset + chunk.chunkSize)) {
        hash.update(piece);
        length += piece.byteLength;
      }
      if (length === chunk.chunkSize && `${algorithm}:${hash.digest('hex')}` === expected) {
        present.add(index);
        presentBytes += chunk.chunkSize;
      }
    }
    if (present.size > 0) {
      for (const index of present) this.#opened.add(index);
      this.#remaining -= present.size;
      this.#hash = undefined;
      if (this.#remaining === 0) await this.#finalize();
    }
    return { reused: false, present, presentBytes };
  }

  /** The sink for chunk `index`; each chunk may be opened once. */
  openChunk(index: number): ChunkSink {
    const chunk = this.entry.chunks[index];
    if (!chunk || this.#opened.has(index)) {
      throw new StargzError('E_INTERNAL', `chunk ${index} of ${this.entry.path} requested twice or unknown`);
    }
    this.#opened.add(index);
    if (this.#isSmall(chunk)) return this.#smallSink(chunk);
    let position = chunk.chunkOffset;
    const end = chunk.chunkOffset + chunk.chunkSize;
    return {
      write: async (data) => {
        this.#assertOpen();
        if (position + data.byteLength > end) {
          throw this.#corrupt(`chunk at ${chunk.chunkOffset} yields more than its ${chunk.chunkSize} bytes`);
        }
        const file = await this.#open();
        await file.write(data, position);
        if (this.#hash && position === this.#hashedUpTo) {
          this.#hash.update(data);
          this.#hashedUpTo += data.byteLength;
        } else {
          this.#hash = undefined;
        }
        position += data.byteLength;
        this.#options.onBytesWritten?.(data.byteLength);
      },
      end: async () => {
        this.#assertOpen();
        if (position !== end) {
          throw this.#corrupt(
            `chunk at ${chunk.chunkOffset} ended after ${position - chunk.chunkOffset} of ${chunk.chunkSize} bytes`,
          );
        }
        this.#remaining--;
        if (this.#remaining === 0) await this.#finalize();
        else if (this.#options.resume && this.#options.verify && chunk.chunkDigest) {
          // the decoder ends a chunk only after it matched its chunkDigest
          await this.#options.resume.state.chunkVerified(this.#options.resume.key, index);
        }
      },
      abort: (error) => this.abort(error),
    };
  }

  /** A file of this one chunk, small enough to be held in memory, nothing of it on disk yet. */
  #isSmall(chunk: TocChunk): boolean {
    const small = this.#options.smallFiles;
    return (
      small !== undefined &&
      this.#file === undefined &&
      this.entry.chunks.length === 1 &&
      chunk.chunkOffset === 0 &&
      chunk.chunkSize === this.entry.size &&
      this.entry.size <= small.maxBytes
    );
  }

  /** Gathers the chunk in memory; its end hands the whole file to the write queue. */
  #smallSink(chunk: TocChunk): ChunkSink {
    const small = this.#options.smallFiles!;
    const buffer = Buffer.allocUnsafe(chunk.chunkSize);
    let position = 0;
    return {
      write: (data) => {
        this.#assertOpen();
        if (position + data.byteLength > buffer.byteLength) {
          throw this.#corrupt(`chunk at ${chunk.chunkOffset} yields more than its ${chunk.chunkSize} bytes`);
        }
        buffer.set(data, position);
        position += data.byteLength;
      },
      end: async () => {
        this.#assertOpen();
        if (position !== buffer.byteLength) {
          throw this.#corrupt(`chunk at 0 ended after ${position} of ${chunk.chunkSize} bytes`);
        }
        this.#remaining--;
        this.#state = 'writing';
        // the decoder ends a chunk only after it matched its chunkDigest: that is the file's digest here
        const verified = this.#options.verify && chunk.chunkDigest === this.entry.digest;
        await small.queue.add(buffer.byteLength, (blocking) => this.#writeSmall(buffer, blocking, verified));
      },
      abort: (error) => this.abort(error),
    };
  }

  async #writeSmall(data: Buffer, blocking: boolean, verified = false): Promise<void> {
    try {
      if (!verified && this.#options.verify && this.entry.digest) this.#checkDigest(data, this.entry.digest);
      await this.#writer.writeWholeFile(this.outputPath, data, this.#meta, {
        tempIn: this.#options.smallFiles?.tempIn,
        sync: blocking,
      });
      this.#state = 'committed';
      this.#options.onBytesWritten?.(data.byteLength);
      const resume = this.#options.resume;
      if (resume) await resume.state.fileCommitted(resume.key, this.outputPath);
      this.#options.onCommitted?.();
    } catch (error) {
      if (this.#state === 'writing') {
        this.#state = 'failed';
        this.#failure = error;
      }
      throw error;
    }
  }

  #checkDigest(data: Uint8Array, expected: string): void {
    const algorithm = expected.startsWith('sha512:') ? 'sha512' : 'sha256';
    const actual = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
    if (actual !== expected) throw this.#mismatch(expected, actual);
  }

  /**
   * Stops the file; the final name is never touched. A temporary file is removed; a resumable partial
   * file is kept for a later run unless its content proved wrong.
   */
  async abort(error?: unknown): Promise<void> {
    // a file handed to the write queue is committed or cleaned up by it
    if (this.#state !== 'open') return;
    this.#state = 'failed';
    this.#failure = error;
    const file = this.#file && (await this.#file.catch(() => undefined));
    if (this.#discard) await file?.discard();
    else await file?.abort();
  }

  async #finalize(): Promise<void> {
    try {
      const file = await this.#open();
      if (this.#options.verify && this.entry.digest) await this.#verifyDigest(file, this.entry.digest);
      await file.commit();
      this.#state = 'committed';
      const resume = this.#options.resume;
      if (resume) await resume.state.fileCommitted(resume.key, this.outputPath);
      this.#options.onCommitted?.();
    } catch (error) {
      await this.abort(error);
      throw error;
    }
  }

  async #verifyDigest(file: FileWriter, expected: string): Promise<void> {
    const algorithm = expected.startsWith('sha512:') ? 'sha512' : 'sha256';
    let hash = algorithm === 'sha256' ? this.#hash : undefined;
    if (!hash || this.#hashedUpTo !== this.entry.size) {
      hash = createHash(algorithm);
      for await (const piece of file.readBack(0, this.entry.size)) hash.update(piece);
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== expected) {
      this.#discard = true;
      throw this.#mismatch(expected, actual);
    }
  }

  #mismatch(expected: string, actual: string): StargzError {
    return new StargzError(
      'E_DIGEST_MISMATCH',
      `${this.entry.path} does not match its digest (expected ${expected}, got ${actual}): the layer is corrupt or was changed`,
      { details: { path: this.entry.path, layer: this.entry.layerDigest, expected, actual } },
    );
  }

  #open(): Promise<FileWriter> {
    const resume = this.#options.resume;
    this.#file ??= resume
      ? this.#writer.openPartial(
          this.outputPath,
          resume.state.partialPath(resume.key),
          this.#meta,
          this.entry.size,
        )
      : this.#writer.writeFile(this.outputPath, this.#meta);
    return this.#file;
  }

  #assertOpen(): void {
    if (this.#state === 'open') return;
    throw this.#failure ?? new StargzError('E_INTERNAL', `${this.entry.path} written after it was closed`);
  }

  #corrupt(what: string): StargzError {
    return new StargzError('E_CORRUPT', `${this.entry.path}: ${what}`, {
      details: { path: this.entry.path, layer: this.entry.layerDigest },
    });
  }
}
