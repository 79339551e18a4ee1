/**
 * The eStargz footer: an empty gzip member at the very end of a layer blob whose gzip "extra" field
 * holds the TOC offset. Two layouts exist (DESIGN.md §2):
 *
 *   eStargz (51 bytes): 1f 8b 08 04 00000000 00 ff | XLEN=26 | 'S' 'G' LEN=22 | %016x "STARGZ" | 01 0000 ffff | 8 x 00
 *   legacy  (47 bytes): 1f 8b 08 04 00000000 00 ff | XLEN=22 |              %016x "STARGZ" | 01 0000 ffff | 8 x 00
 *
 * Error policy: when any fixed byte differs, the blob has no footer and is "not an eStargz layer"
 * (E_NOT_ESTARGZ). When every fixed byte matches but the 16 offset characters are not hexadecimal, or the
 * offset does not point before the footer, the blob claims to be eStargz and is broken (E_TOC_INVALID).
 */

import { StargzError } from '../errors.js';
import type { Footer, FooterKind } from './types.js';

export const FOOTER_SIZE_ESTARGZ = 51;
export const FOOTER_SIZE_LEGACY = 47;

/** The smallest possible gzip member (10-byte header, 2-byte empty deflate block, 8-byte trailer). */
const MIN_GZIP_MEMBER = 20;

const GZIP_HEADER = [0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff];
const STARGZ_MAGIC = [0x53, 0x54, 0x41, 0x52, 0x47, 0x5a]; // "STARGZ"
const EMPTY_BODY_AND_TRAILER = [0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];

interface Layout {
  kind: FooterKind;
  size: number;
  /** the bytes between the gzip header and the 16 hex digits */
  extraPrefix: number[];
}

const LAYOUTS: readonly Layout[] = [
  // XLEN = 26, subfield 'S' 'G' with LEN = 22
  { kind: 'estargz', size: FOOTER_SIZE_ESTARGZ, extraPrefix: [26, 0, 0x53, 0x47, 22, 0] },
  // XLEN = 22, the extra field is the payload itself
  { kind: 'legacy', size: FOOTER_SIZE_LEGACY, extraPrefix: [22, 0] },
];

function matchesAt(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (bytes[at + i] !== expected[i]) return false;
  }
  return true;
}

/** Checks every fixed byte of `layout` in the last `layout.size` bytes of `tail`. */
function hasLayout(tail: Uint8Array, layout: Layout): boolean {
  if (tail.length < layout.size) return false;
  const start = tail.length - layout.size;
  const hexAt = start + GZIP_HEADER.length + layout.extraPrefix.length;
  return (
    matchesAt(tail, start, GZIP_HEADER) &&
    matchesAt(tail, start + GZIP_HEADER.length, layout.extraPrefix) &&
    matchesAt(tail, hexAt + 16, STARGZ_MAGIC) &&
    matchesAt(tail, hexAt + 16 + STARGZ_MAGIC.length, EMPTY_BODY_AND_TRAILER)
  );
}

const HEX16 = /^[0-9a-fA-F]{16}$/;

/**
 * Parses the footer from `tail`, the last bytes of a blob of `blobSize` bytes (at least 51 bytes, or the
 * whole blob when it is smaller). Tries the 51-byte eStargz layout, then the 47-byte legacy one.
 * Throws E_NOT_ESTARGZ when neither layout matches, E_TOC_INVALID when the offset is unusable.
 */
export function parseFooter(tail: Uint8Array, blobSize: number): Footer {
  if (tail.length > blobSize) {
    throw new StargzError('E_INTERNAL', `footer tail of ${tail.length} bytes is larger than the blob`, {
      details: { tailLength: tail.length, blobSize },
    });
  }
  const layout = LAYOUTS.find((candidate) => hasLayout(tail, candidate));
  if (layout === undefined) {
    throw new StargzError(
      'E_NOT_ESTARGZ',
      blobSize < FOOTER_SIZE_LEGACY
        ? `the layer is only ${blobSize} bytes, too small to be eStargz: it may be a plain tar+gzip layer`
        : 'the layer has no eStargz footer: it is probably a plain tar+gzip layer, not eStargz',
      { details: { blobSize } },
    );
  }
  const hexAt = tail.length - layout.size + GZIP_HEADER.length + layout.extraPrefix.length;
  const hex = Buffer.from(tail.buffer, tail.byteOffset + hexAt, 16).toString('latin1');
  if (!HEX16.test(hex)) {
    throw new StargzError(
      'E_TOC_INVALID',
      `the eStargz footer holds an invalid TOC offset ${JSON.stringify(hex)}`,
      {
        details: { footer: layout.kind, offsetText: hex },
      },
    );
  }
  const tocOffset = Number.parseInt(hex, 16);
  const footerStart = blobSize - layout.size;
  if (!Number.isSafeInteger(tocOffset) || tocOffset + MIN_GZIP_MEMBER > footerStart) {
    throw new StargzError(
      'E_TOC_INVALID',
      `the eStargz footer points the TOC at byte ${hex.replace(/^0+(?=.)/, '')} (hex), past the end of the ` +
        `layer (${blobSize} bytes): the blob is truncated or corrupt`,
      { details: { footer: layout.kind, tocOffset, blobSize } },
    );
  }
  return { kind: layout.kind, size: layout.size, tocOffset };
}
