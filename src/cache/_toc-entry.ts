/**
 * TOC entries of the cache: a layer's TOC (as JSON or as the layer's TOC gzip member) with its footer and
 * blob size, checked against its TOC digest both when stored and when loaded.
 */

import type { Footer } from '../estargz/types.js';
import { matchesDigest, parseDigest } from './digest.js';
import { type EntryHeader, encodeEntry } from './entry-file.js';
import { tocJsonFromMember } from './toc-member.js';

/** A layer's TOC as cached: enough to read the layer's files without fetching its tail again. */
export interface CachedToc {
  /** the uncompressed TOC JSON (`stargz.index.json`), exactly as in the layer */
  tocJson: Uint8Array;
  /** sha256 of `tocJson`, `sha256:<hex>` */
  tocDigest: string;
  /** the layer's footer (its `tocOffset` bounds the last entry's compressed extent) */
  footer: Footer;
  /** bytes of the whole layer blob */
  blobSize: number;
}

/**
 * A TOC to store: the TOC JSON, or the TOC gzip member (bytes [tocOffset, blobSize - footer.size) of the
 * layer, which is what a tail read yields; stored as given, about 8x smaller than the JSON).
 */
export type TocToStore = Omit<CachedToc, 'tocJson'> &
  ({ tocJson: Uint8Array } | { tocMember: Uint8Array }) & {
    /**
     * The caller computed `tocDigest` from exactly these bytes (e.g. it just parsed this member): the
     * store skips decompressing them again. Loads still verify everything.
     */
    verified?: boolean;
  };

/**
 * The TOC a loaded entry holds for `layerDigest` (and `tocDigest`, when given), or the problem that makes
 * it unusable.
 */
export function tocFromEntry(
  header: EntryHeader,
  payload: Uint8Array,
  layerDigest: string,
  tocDigest: string | undefined,
  maxTocBytes: number,
): { toc: CachedToc } | { problem: string } {
  const tocJson =
    header.kind === 'toc' && header.payload === 'gzip-member'
      ? tocJsonFromMember(payload, maxTocBytes)
      : payload;
  const problem =
    header.kind !== 'toc'
      ? 'not a TOC entry'
      : header.layerDigest !== layerDigest
        ? 'entry belongs to another layer'
        : tocDigest !== undefined && header.tocDigest !== tocDigest
          ? 'TOC digest differs from the manifest annotation'
          : tocJson === undefined
            ? 'TOC member does not hold a TOC within the size cap'
            : !matchesDigest(tocJson, header.tocDigest)
              ? 'TOC bytes do not match their digest'
              : undefined;
  if (problem !== undefined || header.kind !== 'toc' || tocJson === undefined) {
    return { problem: problem ?? 'not a TOC entry' };
  }
  return {
    toc: { tocJson, tocDigest: header.tocDigest, footer: { ...header.footer }, blobSize: header.blobSize },
  };
}

/**
 * The entry bytes storing `toc` for `layerDigest`, or why it is refused: a malformed TOC digest, a TOC
 * over `maxTocBytes`, or bytes that do not hash to the TOC digest (a member is decompressed to check it
 * unless `verified`).
 */
export function tocEntryBytes(
  layerDigest: string,
  toc: TocToStore,
  maxTocBytes: number,
): { bytes: Uint8Array } | { refused: string } {
  if (parseDigest(toc.tocDigest) === undefined) return { refused: 'malformed digest' };
  const form = 'tocMember' in toc ? 'gzip-member' : 'json';
  const payload = 'tocMember' in toc ? toc.tocMember : toc.tocJson;
  if (payload.length > maxTocBytes) return { refused: 'TOC over the size cap' };
  if (toc.verified === true && 'tocMember' in toc) {
    // the gzip trailer's ISIZE: the tar's size (mod 2^32), so a TOC over the cap is not stored only to be refused at load
    const member = toc.tocMember;
    const isize =
      member.length < 18
        ? Number.POSITIVE_INFINITY
        : new DataView(member.buffer, member.byteOffset, member.length).getUint32(member.length - 4, true);
    if (isize > maxTocBytes + 64 * 1024) return { refused: 'TOC over the size cap' };
  } else {
    const tocJson = 'tocMember' in toc ? tocJsonFromMember(toc.tocMember, maxTocBytes) : toc.tocJson;
    if (tocJson === undefined) return { refused: 'TOC member does not hold a TOC within the size cap' };
    if (!matchesDigest(tocJson, toc.tocDigest)) return { refused: 'TOC bytes do not match their digest' };
  }
  const header = {
    format: 'starget-cache/1',
    kind: 'toc',
    layerDigest,
    tocDigest: toc.tocDigest,
    footer: { kind: toc.footer.kind, size: toc.footer.size, tocOffset: toc.footer.tocOffset },
    blobSize: toc.blobSize,
    payload: form,
    payloadBytes: payload.length,
  } as const;
  return { bytes: encodeEntry(header, payload) };
}
