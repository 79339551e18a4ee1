/**
 * Test stand-ins until the eStargz reader lands on main: a builder of blobs made of gzip members (one per
 * chunk, with a junk member between files as the tar headers would be, and junk bytes before the chunk
 * inside its member to exercise innerOffset), an in-memory BlobSource, and a simple decoder that honours
 * the DecodeMembers contract (it buffers the body, which the real streaming decoder does not).
 */

import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DecodeMembers, DownloadEntry } from '../../../src/download/types.js';
import { StargzError } from '../../../src/errors.js';
import type { TocChunk } from '../../../src/estargz/types.js';
import type { BlobRangeResponse, BlobSource } from '../../../src/registry/types.js';

export const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface FakeFile {
  path: string;
  content: Buffer;
  /** split into chunks of this size */
  chunkSize?: number;
  /** junk bytes before each chunk inside its member (innerOffset) */
  innerJunk?: number;
  /** leave chunkDigest out (legacy TOC) */
  noChunkDigest?: boolean;
  mode?: number;
  modtime?: string;
}

export interface FakeLayer {
  digest: string;
  blob: Buffer;
  /** regular-file entries by path */
  files: Map<string, DownloadEntry>;
}

/** Builds a blob holding the files' contents as gzip members, and their entries. */
export function buildLayer(files: FakeFile[], gapBytes = 64): FakeLayer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (member: Buffer) => {
    parts.push(member);
    offset += member.length;
  };
  push(gzipSync(randomBytes(gapBytes)));
  const pending: { path: string; file: FakeFile; chunks: Omit<TocChunk, 'compressedEnd'>[] }[] = [];
  const starts: number[] = [];
  for (const file of files) {
    const chunks: Omit<TocChunk, 'compressedEnd'>[] = [];
    const size = file.chunkSize ?? Math.max(file.content.length, 1);
    for (let at = 0; at < file.content.length; at += size) {
      const data = file.content.subarray(at, at + size);
      const junk = randomBytes(file.innerJunk ?? 0);
      const memberOffset = offset;
      starts.push(memberOffset);
      push(gzipSync(Buffer.concat([junk, data, randomBytes(17)])));
      chunks.push({
        offset: memberOffset,
        innerOffset: junk.length,
        chunkOffset: at,
        chunkSize: data.length,
        ...(file.noChunkDigest ? {} : { chunkDigest: sha256(data) }),
      });
    }
    starts.push(offset);
    push(gzipSync(randomBytes(gapBytes)));
    pending.push({ path: file.path, file, chunks });
  }
  const blob = Buffer.concat(parts);
  const digest = sha256(blob);
  const ends = (start: number) => starts.find((s) => s > start) ?? blob.length;
  const entries = new Map<string, DownloadEntry>();
  for (const { path, file, chunks } of pending) {
    entries.set(path, {
      path,
      type: 'reg',
      mode: file.mode ?? 0o644,
      uid: 0,
      gid: 0,
      size: file.content.length,
      modtime: file.modtime ?? '2020-01-01T00:00:00Z',
      digest: sha256(file.content),
      chunks: chunks.map((c) => ({ ...c, compressedEnd: ends(c.offset) })),
      layerDigest: digest,
    });
  }
  return { digest, blob, files: entries };
}

export interface MemorySourceOptions {
  /** answer every range with the whole blob (200), as a registry ignoring Range */
  ignoreRange?: boolean;
  /** wait before answering a range starting at this offset */
  delay?: (start: number) => Promise<void>;
  /** bytes per body piece */
  pieceSize?: number;
}

/** A BlobSource over a buffer that records the ranges asked for. */
export class MemoryBlobSource implements BlobSource {
  readonly digest: string;
  readonly size: number;
  readonly asked: [number, number][] = [];
  readonly #blob: Buffer;
  readonly #options: MemorySourceOptions;

  constructor(blob: Buffer, digest: string, options: MemorySourceOptions = {}) {
    this.#blob = blob;
    this.digest = digest;
    this.size = blob.length;
    this.#options = options;
  }

  async readRange(
    start: number,
    end: number,
    options?: { signal?: AbortSignal },
  ): Promise<BlobRangeResponse> {
    this.asked.push([start, end]);
    await this.#options.delay?.(start);
    options?.signal?.throwIfAborted();
    const whole = this.#options.ignoreRange === true;
    const bytes = whole ? this.#blob : this.#blob.subarray(start, end);
    const pieceSize = this.#options.pieceSize ?? 1000;
    async function* body() {
      for (let at = 0; at < bytes.length; at += pieceSize) yield bytes.subarray(at, at + pieceSize);
    }
    return whole
      ? { kind: 'whole', start: 0, end: this.size, totalSize: this.size, body: body() }
      : { kind: 'partial', start, end, totalSize: this.size, body: body() };
  }
}

/** A buffering decoder honouring the DecodeMembers contract, for tests only. */
export const bufferingDecoder: DecodeMembers = async (body, bodyStart, requests, openSink, options) => {
  const pieces: Uint8Array[] = [];
  for await (const piece of body) pieces.push(piece);
  const data = Buffer.concat(pieces);
  for (const request of requests) {
    options?.signal?.throwIfAborted();
    const { offset, compressedEnd, innerOffset, chunkSize } = request.chunk;
    if (offset < bodyStart || compressedEnd - bodyStart > data.length) {
      throw new StargzError('E_INTERNAL', 'request outside the body');
    }
    let plain: Buffer;
    try {
      plain = gunzipSync(data.subarray(offset - bodyStart, compressedEnd - bodyStart));
    } catch (error) {
      throw new StargzError('E_CORRUPT', 'bad gzip member', { cause: error });
    }
    const bytes = plain.subarray(innerOffset, innerOffset + chunkSize);
    const expected = request.expectedDigest ?? request.chunk.chunkDigest;
    if (options?.verify !== false && expected && sha256(bytes) !== expected) {
      throw new StargzError('E_DIGEST_MISMATCH', `chunk at ${offset} does not match ${expected}`);
    }
    const sink = await openSink(request);
    const half = Math.floor(bytes.length / 2);
    await sink.write(bytes.subarray(0, half));
    await sink.write(bytes.subarray(half));
    await sink.end();
  }
};
