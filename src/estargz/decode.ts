/**
 * Streaming decoding of payload members: turns compressed blob bytes (a coalesced range, or the whole
 * blob) into the exact bytes of the requested chunks, verifying digests as they pass.
 */

import { gunzipSync } from 'node:zlib';
import { StargzError, toStargzError } from '../errors.js';
import { ByteCursor } from './byte-cursor.js';
import {
  abortOpened,
  type ChunkSink,
  ExtentDelivery,
  type MemberRequest,
  type OpenedDeliveries,
} from './chunk-delivery.js';
import { StreamingGunzip } from './gunzip-stream.js';

export type { ChunkSink, MemberRequest } from './chunk-delivery.js';

export interface DecodeOptions {
  /** check each chunk against its digest (default true) */
  verify?: boolean;
  signal?: AbortSignal;
}

/** Extents up to this compressed size whose needed output is small are inflated in one synchronous call. */
const SYNC_MAX_COMPRESSED = 256 * 1024;
const SYNC_MAX_NEEDED = 1024 * 1024;
/** Output allowed past the needed bytes in the synchronous path (tar padding and the next headers). */
const SYNC_SLACK = 1024 * 1024;

interface Extent<T> {
  start: number;
  end: number;
  requests: MemberRequest<T>[];
}

/** Groups sorted requests by member offset and checks they can be served from one forward pass. */
function groupExtents<T>(requests: readonly MemberRequest<T>[], bodyStart: number): Extent<T>[] {
  const extents: Extent<T>[] = [];
  let last: Extent<T> | undefined;
  for (const request of requests) {
    const { offset, compressedEnd, innerOffset } = request.chunk;
    if (last !== undefined && last.start === offset) {
      const previous = last.requests[last.requests.length - 1] as MemberRequest<T>;
      if (compressedEnd !== last.end || innerOffset < previous.chunk.innerOffset) {
        throw new StargzError(
          'E_INTERNAL',
          'decodeMembers: requests sharing a member disagree or are unsorted',
          {
            details: { offset },
          },
        );
      }
      last.requests.push(request);
      continue;
    }
    if (offset < (last?.end ?? bodyStart) || compressedEnd <= offset) {
      throw new StargzError(
        'E_INTERNAL',
        'decodeMembers: requests are unsorted, overlap, or start before the body',
        {
          details: { offset, compressedEnd, bodyStart },
        },
      );
    }
    last = { start: offset, end: compressedEnd, requests: [request] };
    extents.push(last);
  }
  return extents;
}

function corrupt(extent: Extent<unknown>, error: unknown): StargzError {
  if (StargzError.is(error)) return error;
  const name = extent.requests[0]?.name;
  return new StargzError(
    'E_CORRUPT',
    `the gzip data at bytes ${extent.start}-${extent.end - 1} of the layer` +
      `${name === undefined ? '' : ` (${JSON.stringify(name)})`} is corrupt: ${(error as Error).message}`,
    {
      cause: error,
      details: { offset: extent.start, end: extent.end, ...(name === undefined ? {} : { name }) },
    },
  );
}

/** Small extents: one synchronous gunzip, bounded by the bytes needed. False when the output is larger. */
async function decodeSmall<T>(
  compressed: Buffer,
  extent: Extent<T>,
  delivery: ExtentDelivery<T>,
): Promise<boolean> {
  let output: Buffer;
  try {
    output = gunzipSync(compressed, {
      maxOutputLength: delivery.neededEnd + SYNC_SLACK,
      // one output buffer of about the expected size: fewer allocations for many small members
      chunkSize: Math.min(64 * 1024, Math.max(1024, delivery.neededEnd + 2048)),
    });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return false;
    throw corrupt(extent, error);
  }
  if (output.length > 0) await delivery.push(output);
  delivery.finish(extent.start);
  return true;
}

/** Any extent: inflate while streaming, stop as soon as every request is served (gzip bomb guard). */
async function decodeStreaming<T>(
  next: () => Promise<Buffer | undefined>,
  extent: Extent<T>,
  delivery: ExtentDelivery<T>,
): Promise<void> {
  const gunzip = new StreamingGunzip();
  try {
    for (let input = await next(); input !== undefined && !delivery.done; input = await next()) {
      try {
        for await (const batch of gunzip.write(input)) {
          for (const piece of batch) if (!delivery.done) await delivery.push(piece);
          if (delivery.done) break;
        }
      } catch (error) {
        throw corrupt(extent, error);
      }
    }
    if (!delivery.done) {
      try {
        for await (const batch of gunzip.finish()) {
          for (const piece of batch) if (!delivery.done) await delivery.push(piece);
        }
      } catch (error) {
        throw corrupt(extent, error);
      }
      delivery.finish(extent.start);
    }
  } finally {
    gunzip.destroy();
  }
}

/**
 * Decodes requested chunks from `body`, the compressed blob bytes starting at blob offset `bodyStart`
 * (0 for a whole blob). `requests` are sorted by (offset, innerOffset); several may share a member.
 * Gaps between extents are skipped; each extent [offset, compressedEnd) is inflated (concatenated gzip
 * members included) and bytes [innerOffset, innerOffset + chunkSize) go to the request's sink, in
 * pieces, awaiting each write. Inflation stops once the needed bytes came out, and reading stops after
 * the last extent. Digests are verified when `verify` is on (E_DIGEST_MISMATCH); bad or truncated gzip
 * is E_CORRUPT. On any failure every open sink gets `abort` (never `end`) and the error is thrown.
 */
export async function decodeMembers<T>(
  body: AsyncIterable<Uint8Array>,
  bodyStart: number,
  requests: readonly MemberRequest<T>[],
  openSink: (req: MemberRequest<T>) => ChunkSink | Promise<ChunkSink>,
  options: DecodeOptions = {},
): Promise<void> {
  const verify = options.verify ?? true;
  const extents = groupExtents(requests, bodyStart);
  const cursor = new ByteCursor(body, bodyStart, options.signal);
  const opened: OpenedDeliveries = new Set();
  try {
    for (const extent of extents) {
      await cursor.skipTo(extent.start);
      const delivery = new ExtentDelivery(extent.requests, openSink, verify, opened);
      const length = extent.end - extent.start;
      if (length <= SYNC_MAX_COMPRESSED && delivery.neededEnd <= SYNC_MAX_NEEDED) {
        const compressed = await cursor.take(length);
        if (!(await decodeSmall(compressed, extent, delivery))) {
          const inputs = [compressed];
          await decodeStreaming(async () => inputs.pop(), extent, delivery);
        }
      } else {
        const next = async (): Promise<Buffer | undefined> =>
          cursor.position < extent.end ? cursor.next(extent.end) : undefined;
        await decodeStreaming(next, extent, delivery);
        await cursor.skipTo(extent.end);
      }
    }
  } catch (error) {
    const failure = toStargzError(error);
    await abortOpened(opened, failure);
    throw failure;
  } finally {
    await cursor.close();
  }
}
