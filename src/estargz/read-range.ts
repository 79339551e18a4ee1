import { StargzError } from '../errors.js';
import type { BlobRangeResponse, BlobSource } from '../registry/types.js';

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new StargzError('E_ABORTED', 'the operation was cancelled', { cause: signal.reason });
  }
}

/**
 * Reads blob bytes [start, end) into memory. A `whole` answer (the server ignored Range) is streamed:
 * bytes before `start` are dropped as they pass, and reading stops once `end` is reached, so memory stays
 * at `end - start` bytes. Use it only for small ranges (footer, TOC); payloads go through decodeMembers.
 */
export async function readRangeBytes(
  source: BlobSource,
  start: number,
  end: number,
  options: { signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const { signal } = options;
  throwIfAborted(signal);
  const out = new Uint8Array(end - start);
  if (end === start) return out;
  const response = await source.readRange(start, end, signal === undefined ? {} : { signal });
  checkResponse(source, response, start, end);
  let position = response.kind === 'whole' ? 0 : start;
  for await (const piece of response.body) {
    throwIfAborted(signal);
    const pieceEnd = position + piece.length;
    if (response.kind === 'partial' && pieceEnd > end) {
      throw new StargzError(
        'E_PROTOCOL',
        `the registry sent more bytes than asked for blob ${source.digest}`,
        {
          details: { digest: source.digest, start, end },
        },
      );
    }
    const from = Math.max(start, position);
    const to = Math.min(end, pieceEnd);
    if (to > from) out.set(piece.subarray(from - position, to - position), from - start);
    position = pieceEnd;
    if (position >= end) break; // leaving the loop closes the body (the rest of a whole blob is not read)
  }
  if (position < end) {
    throw new StargzError(
      'E_PROTOCOL',
      `the blob ${source.digest} body ended at byte ${position}, before the end of the asked range ${end}`,
      { details: { digest: source.digest, start, end, received: position } },
    );
  }
  return out;
}

function checkResponse(source: BlobSource, response: BlobRangeResponse, start: number, end: number): void {
  if (response.kind === 'partial' && (response.start !== start || response.end !== end)) {
    throw new StargzError(
      'E_PROTOCOL',
      `asked bytes ${start}-${end - 1} of blob ${source.digest}, got ${response.start}-${response.end - 1}`,
      { details: { digest: source.digest, start, end, gotStart: response.start, gotEnd: response.end } },
    );
  }
  if (response.totalSize !== undefined && response.totalSize !== source.size) {
    throw new StargzError(
      'E_PROTOCOL',
      `blob ${source.digest} is ${response.totalSize} bytes on the registry, but its descriptor says ${source.size}`,
      { details: { digest: source.digest, size: source.size, totalSize: response.totalSize } },
    );
  }
}
