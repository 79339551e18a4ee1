/** Small helpers shared by the downloader and `catFile`: source lookup, range checks, byte counting. */

import { StargzError } from '../errors.js';
import type { BlobRangeResponse, BlobSource } from '../registry/types.js';
import type { BlobSourceLookup } from './job.js';

/** The source for a layer, or E_INTERNAL when the caller did not provide one. */
export function resolveSource(sources: BlobSourceLookup, layerDigest: string): BlobSource {
  const source = typeof sources === 'function' ? sources(layerDigest) : sources.get(layerDigest);
  if (!source) {
    throw new StargzError('E_INTERNAL', `no blob source for layer ${layerDigest}`, {
      details: { layerDigest },
    });
  }
  return source;
}

/** Fails unless a partial answer is exactly the range asked for (a whole answer starts at byte 0). */
export function checkRangeResponse(
  response: BlobRangeResponse,
  start: number,
  end: number,
  layerDigest: string,
): void {
  const ok =
    response.kind === 'whole' ? response.start === 0 : response.start === start && response.end === end;
  if (!ok) {
    throw new StargzError(
      'E_PROTOCOL',
      `the registry answered bytes ${response.start}-${response.end} of layer ${layerDigest} when asked for ${start}-${end}`,
      { details: { layerDigest, start, end, gotStart: response.start, gotEnd: response.end } },
    );
  }
}

/** Passes a body through, reporting the size of each piece. */
export async function* countBytes(
  body: AsyncIterable<Uint8Array>,
  onBytes: (bytes: number) => void,
): AsyncIterable<Uint8Array> {
  for await (const piece of body) {
    onBytes(piece.byteLength);
    yield piece;
  }
}

/** Parses an RFC 3339 time; undefined when absent or unreadable. */
export function parseModtime(modtime: string | undefined): Date | undefined {
  if (!modtime) return undefined;
  const date = new Date(modtime);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
