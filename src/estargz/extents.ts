/**
 * Compressed extents of payload pieces. A piece (a file's first chunk or a `chunk` entry) starts at the
 * gzip member at `offset`; its extent ends at the next *different* member offset among later pieces, in TOC
 * order, or at the TOC offset for the last one. A piece's `offset` is always a member start, even when its
 * `innerOffset` is not 0 (a shared member whose first bytes are a tar header, not a listed payload). Extents must lie inside
 * [0, tocOffset) and distinct members must not overlap.
 */

import { StargzError } from '../errors.js';

/** The part of a TocChunk this module reads and sets. */
export interface PieceLocation {
  offset: number;
  innerOffset: number;
  compressedEnd: number;
}

function invalid(message: string, details: Record<string, unknown>): StargzError {
  return new StargzError('E_TOC_INVALID', `invalid eStargz TOC: ${message}`, { details });
}

/**
 * Sets `compressedEnd` on every piece (given in TOC order) and validates the extents.
 * `names[i]` names the file of `pieces[i]` in error messages.
 */
export function assignCompressedEnds(
  pieces: PieceLocation[],
  names: readonly string[],
  tocOffset: number,
): void {
  // nearest: offset of the nearest following member start; nextDifferent: the nearest one after that
  // which differs from it. Both fall back to the TOC offset.
  let nearest = tocOffset;
  let nextDifferent = tocOffset;
  for (let i = pieces.length - 1; i >= 0; i--) {
    const piece = pieces[i] as PieceLocation;
    piece.compressedEnd = piece.offset !== nearest ? nearest : nextDifferent;
    if (piece.offset !== nearest) {
      nextDifferent = nearest;
      nearest = piece.offset;
    }
  }
  validateExtents(pieces, names, tocOffset);
}

function validateExtents(
  pieces: readonly PieceLocation[],
  names: readonly string[],
  tocOffset: number,
): void {
  const firstByStart = new Map<number, number>();
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as PieceLocation;
    const name = names[i] ?? '';
    if (piece.offset >= tocOffset || piece.compressedEnd > tocOffset) {
      throw invalid(`the payload of ${JSON.stringify(name)} lies outside the data area (before the TOC)`, {
        name: name,
        offset: piece.offset,
        tocOffset,
      });
    }
    if (piece.compressedEnd <= piece.offset) {
      throw invalid(`payload offsets are not increasing at ${JSON.stringify(name)}`, {
        name: name,
        offset: piece.offset,
      });
    }
    const seen = firstByStart.get(piece.offset);
    if (seen === undefined) {
      firstByStart.set(piece.offset, i);
    } else if ((pieces[seen] as PieceLocation).compressedEnd !== piece.compressedEnd) {
      throw invalid(
        `the gzip member at byte ${piece.offset} is claimed by ${JSON.stringify(names[seen])} and, out of order, ` +
          `by ${JSON.stringify(name)}`,
        { name: name, offset: piece.offset },
      );
    }
  }
  const starts = [...firstByStart.keys()].sort((a, b) => a - b);
  for (let i = 1; i < starts.length; i++) {
    const previousIndex = firstByStart.get(starts[i - 1] as number) as number;
    const previous = pieces[previousIndex] as PieceLocation;
    const current = starts[i] as number;
    if (previous.compressedEnd > current) {
      const name = names[previousIndex];
      throw invalid(
        `the compressed extents of ${JSON.stringify(name)} and the member at ${current} overlap`,
        {
          name,
          offset: previous.offset,
          end: previous.compressedEnd,
          overlapsAt: current,
        },
      );
    }
  }
}
