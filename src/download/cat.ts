/** `catFile`: streams one regular file's bytes, in order, to a Writable (for `starget cat`). */

import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { StargzError, toStargzError } from '../errors.js';
import { decodeMembers } from '../estargz/decode.js';
import { checkRangeResponse, countBytes, resolveSource } from './_io.js';
import type { BlobSourceLookup } from './job.js';
import { coalesceRanges, type PlanOptions } from './plan.js';
import type { ChunkSink, DecodeMembers, DownloadEntry, MemberRequest } from './types.js';

export interface CatOptions extends Pick<PlanOptions, 'maxGap' | 'maxRangeBytes'> {
  /** the eStargz member decoder (default: estargz/decode.ts `decodeMembers`) */
  decodeMembers?: DecodeMembers;
  /** do not check chunk and file digests */
  skipVerify?: boolean;
  signal?: AbortSignal;
}

/** Chunks up to this size are held in memory until verified (the reference writer makes 4 MiB chunks). */
export const MAX_HELD_CHUNK_BYTES = 8 * 1024 * 1024;

export interface CatResult {
  bytesWritten: number;
  bytesFetched: number;
  requests: number;
}

/**
 * Writes the content of `entry` (a regular file) to `output` chunk by chunk, waiting for the stream to
 * drain, so memory stays bounded whatever the file size. A chunk with a digest (up to
 * MAX_HELD_CHUNK_BYTES) is held until the decoder has verified it, so no byte of a corrupt chunk goes out;
 * a larger chunk, or a file without chunk digests, can only be checked at the end, when it rejects with
 * E_DIGEST_MISMATCH after the bytes went out. Does not end `output`.
 */
export async function catFile(
  entry: DownloadEntry,
  sources: BlobSourceLookup,
  output: Writable,
  options: CatOptions = {},
): Promise<CatResult> {
  const decode = options.decodeMembers ?? decodeMembers;
  if (entry.type !== 'reg') {
    throw new StargzError('E_UNSUPPORTED', `${entry.path} is a ${entry.type}, not a regular file`, {
      details: { path: entry.path },
    });
  }
  const verify = !options.skipVerify;
  const result: CatResult = { bytesWritten: 0, bytesFetched: 0, requests: 0 };
  const hash = createHash('sha256');
  const requests: MemberRequest<number>[] = entry.chunks.map((chunk, index) => ({
    chunk,
    tag: index,
    name: entry.path,
    ...(verify && chunk.chunkDigest ? { expectedDigest: chunk.chunkDigest } : {}),
  }));
  let nextChunk = 0;
  const openSink = (request: MemberRequest<number>): ChunkSink => {
    if (request.tag !== nextChunk) {
      throw new StargzError('E_INTERNAL', `chunk ${request.tag} of ${entry.path} arrived out of order`);
    }
    const chunk = request.chunk;
    let received = 0;
    // the decoder checks the chunk digest before `end`: hold the bytes until then when it has one
    const held: Uint8Array[] | undefined =
      request.expectedDigest !== undefined && chunk.chunkSize <= MAX_HELD_CHUNK_BYTES ? [] : undefined;
    const emit = async (data: Uint8Array) => {
      hash.update(data);
      result.bytesWritten += data.byteLength;
      await writeWithBackpressure(output, data, options.signal);
    };
    return {
      write: async (data) => {
        received += data.byteLength;
        if (received > chunk.chunkSize)
          throw corrupt(entry, `a chunk yields more than its ${chunk.chunkSize} bytes`);
        if (held) held.push(data);
        else await emit(data);
      },
      end: async () => {
        if (received !== chunk.chunkSize)
          throw corrupt(entry, `a chunk ended after ${received} of ${chunk.chunkSize} bytes`);
        for (const data of held ?? []) await emit(data);
        nextChunk++;
      },
    };
  };

  try {
    const source = resolveSource(sources, entry.layerDigest);
    // chunks are in file order, which is blob order for files the eStargz writer made
    const ranges = coalesceRanges(entry.layerDigest, requests, options);
    ranges.sort((a, b) => a.requests[0]!.tag - b.requests[0]!.tag);
    for (const range of ranges) {
      if (nextChunk === requests.length) break;
      const response = await source.readRange(range.start, range.end, { signal: options.signal });
      result.requests++;
      checkRangeResponse(response, range.start, range.end, entry.layerDigest);
      const body = countBytes(response.body, (bytes) => {
        result.bytesFetched += bytes;
      });
      if (response.kind === 'whole') {
        // the registry ignored Range: take every remaining chunk from this one pass over the blob
        await decode(body, 0, requests.slice(nextChunk), openSink, {
          signal: options.signal,
          verify,
        });
        break;
      }
      await decode(body, range.start, range.requests, openSink, {
        signal: options.signal,
        verify,
      });
    }
  } catch (error) {
    throw toStargzError(error, 'E_IO');
  }
  if (nextChunk !== requests.length || result.bytesWritten !== entry.size) {
    throw corrupt(entry, `got ${result.bytesWritten} of ${entry.size} bytes`);
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (verify && entry.digest && actual !== entry.digest) {
    throw new StargzError(
      'E_DIGEST_MISMATCH',
      `${entry.path} does not match its digest (expected ${entry.digest}, got ${actual}): the output is wrong`,
      { details: { path: entry.path, layer: entry.layerDigest, expected: entry.digest, actual } },
    );
  }
  return result;
}

async function writeWithBackpressure(
  output: Writable,
  data: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  if (output.destroyed || output.writableEnded) throw outputClosed();
  if (output.write(data)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      output.off('drain', onDrain);
      output.off('close', onClose);
      output.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => settle();
    const onClose = () => settle(outputClosed());
    const onError = (error: unknown) => settle(toStargzError(error, 'E_IO'));
    const onAbort = () =>
      settle(new StargzError('E_ABORTED', 'cat was cancelled', { cause: signal?.reason }));
    output.on('drain', onDrain);
    output.on('close', onClose);
    output.on('error', onError);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function outputClosed(): StargzError {
  return new StargzError('E_IO', 'the output was closed before the file was complete');
}

function corrupt(entry: DownloadEntry, what: string): StargzError {
  return new StargzError('E_CORRUPT', `${entry.path}: ${what}`, {
    details: { path: entry.path, layer: entry.layerDigest },
  });
}
