/**
 * Puts one regular file together from its chunks, which may arrive from different range requests and in
 * any order: each chunk is written at its file offset into the writer's temporary file; when the last chunk
 * ends, the whole-file digest is checked (when known and verification is on) and the file is committed.
 */

import { createHash, type Hash } from 'node:crypto';
import { StargzError } from '../errors.js';
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
  #state: 'open' | 'committed' | 'failed' = 'open';
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

  /**
   * Stops the file; the final name is never touched. A temporary file is removed; a resumable partial
   * file is kept for a later run unless its content proved wrong.
   */
  async abort(error?: unknown): Promise<void> {
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
      throw new StargzError(
        'E_DIGEST_MISMATCH',
        `${this.entry.path} does not match its digest (expected ${expected}, got ${actual}): the layer is corrupt or was changed`,
        { details: { path: this.entry.path, layer: this.entry.layerDigest, expected, actual } },
      );
    }
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
