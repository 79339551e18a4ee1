/**
 * Puts one regular file together from its chunks, which may arrive from different range requests and in
 * any order: each chunk is written at its file offset into the writer's temporary file; when the last chunk
 * ends, the whole-file digest is checked (when known and verification is on) and the file is committed.
 */

import { createHash, type Hash } from 'node:crypto';
import { StargzError } from '../errors.js';
import type { EntryMetadata, FileWriter, SafeWriter } from './safe-writer.js';
import type { ChunkSink, DownloadEntry } from './types.js';

export interface FileAssemblerOptions {
  /** check the whole-file digest */
  verify: boolean;
  /** called with the size of every piece written */
  onBytesWritten?: (bytes: number) => void;
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
      },
      abort: (error) => this.abort(error),
    };
  }

  /** Drops the temporary file; the final name is never touched. */
  async abort(error?: unknown): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'failed';
    this.#failure = error;
    if (this.#file) await (await this.#file.catch(() => undefined))?.abort();
  }

  async #finalize(): Promise<void> {
    try {
      const file = await this.#open();
      if (this.#options.verify && this.entry.digest) await this.#verifyDigest(file, this.entry.digest);
      await file.commit();
      this.#state = 'committed';
    } catch (error) {
      await this.abort(error);
      throw error;
    }
  }

  async #verifyDigest(file: FileWriter, expected: string): Promise<void> {
    let hash = this.#hash;
    if (!hash || this.#hashedUpTo !== this.entry.size) {
      hash = createHash('sha256');
      for await (const piece of file.readBack()) hash.update(piece);
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== expected) {
      throw new StargzError(
        'E_DIGEST_MISMATCH',
        `${this.entry.path} does not match its digest (expected ${expected}, got ${actual}): the layer is corrupt or was changed`,
        { details: { path: this.entry.path, layer: this.entry.layerDigest, expected, actual } },
      );
    }
  }

  #open(): Promise<FileWriter> {
    this.#file ??= this.#writer.writeFile(this.outputPath, this.#meta);
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
