/**
 * The on-disk form of one cache entry: a one-line JSON header, a newline, then the payload bytes.
 * The header says what the payload is and how long it must be, so a truncated or foreign file is rejected
 * before anything trusts it. Pure: bytes in, bytes or a reason out.
 */

import type { Footer } from '../estargz/types.js';

export const ENTRY_FORMAT = 'starget-cache/1';
/** A header is a few hundred bytes; anything longer is not ours. */
export const MAX_HEADER_BYTES = 4096;

export interface TocEntryHeader {
  format: typeof ENTRY_FORMAT;
  kind: 'toc';
  layerDigest: string;
  tocDigest: string;
  footer: Footer;
  blobSize: number;
  /** `json`: the TOC JSON itself; `gzip-member`: the TOC gzip member as the layer holds it */
  payload: TocPayloadForm;
  payloadBytes: number;
}

export type TocPayloadForm = 'json' | 'gzip-member';

export interface ManifestEntryHeader {
  format: typeof ENTRY_FORMAT;
  kind: 'manifest';
  digest: string;
  mediaType?: string;
  payloadBytes: number;
}

/**
 * Which image manifest an index lists for a platform. The index is immutable (named by its digest), so
 * the choice is too; it spares fetching the index again when only its digest is known (manifest HEAD).
 */
export interface PlatformEntryHeader {
  format: typeof ENTRY_FORMAT;
  kind: 'platform';
  indexDigest: string;
  /** the platform asked for, `os/arch[/variant]` */
  platform: string;
  payloadBytes: number;
}

export type EntryHeader = TocEntryHeader | ManifestEntryHeader | PlatformEntryHeader;

export type DecodedEntry =
  | { ok: true; header: EntryHeader; payload: Uint8Array }
  | { ok: false; reason: string };

/** Header and payload as one buffer ready to be written. */
export function encodeEntry(header: EntryHeader, payload: Uint8Array): Buffer {
  const line = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
  if (line.length > MAX_HEADER_BYTES) throw new RangeError('cache entry header too long');
  return Buffer.concat([line, payload]);
}

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function isFooter(value: unknown): value is Footer {
  if (typeof value !== 'object' || value === null) return false;
  const f = value as Record<string, unknown>;
  return (
    ((f['kind'] === 'estargz' && f['size'] === 51) || (f['kind'] === 'legacy' && f['size'] === 47)) &&
    isCount(f['tocOffset'])
  );
}

function checkHeader(value: unknown): EntryHeader | string {
  if (typeof value !== 'object' || value === null) return 'header is not an object';
  const h = value as Record<string, unknown>;
  if (h['format'] !== ENTRY_FORMAT) return `unknown format ${String(h['format'])}`;
  if (!isCount(h['payloadBytes'])) return 'bad payloadBytes';
  if (h['kind'] === 'manifest') {
    if (typeof h['digest'] !== 'string') return 'bad manifest digest';
    if (h['mediaType'] !== undefined && typeof h['mediaType'] !== 'string') return 'bad mediaType';
    return value as ManifestEntryHeader;
  }
  if (h['kind'] === 'toc') {
    if (typeof h['layerDigest'] !== 'string' || typeof h['tocDigest'] !== 'string') return 'bad toc digests';
    if (!isCount(h['blobSize']) || !isFooter(h['footer'])) return 'bad footer or blob size';
    if (h['payload'] !== 'json' && h['payload'] !== 'gzip-member') return 'bad payload form';
    const footer = h['footer'] as Footer;
    if (footer.tocOffset + footer.size > (h['blobSize'] as number)) return 'footer does not fit the blob';
    return value as TocEntryHeader;
  }
  if (h['kind'] === 'platform') {
    if (typeof h['indexDigest'] !== 'string' || typeof h['platform'] !== 'string')
      return 'bad platform entry';
    return value as PlatformEntryHeader;
  }
  return `unknown kind ${String(h['kind'])}`;
}

/** Splits and checks an entry file's bytes. Never throws. */
export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  const limit = Math.min(bytes.length, MAX_HEADER_BYTES);
  let newline = -1;
  for (let i = 0; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      newline = i;
      break;
    }
  }
  if (newline < 0) return { ok: false, reason: 'no header line' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, newline).toString('utf8'));
  } catch {
    return { ok: false, reason: 'header is not JSON' };
  }
  const header = checkHeader(parsed);
  if (typeof header === 'string') return { ok: false, reason: header };
  const payload = bytes.subarray(newline + 1);
  if (payload.length !== header.payloadBytes) {
    return { ok: false, reason: `payload is ${payload.length} bytes, header says ${header.payloadBytes}` };
  }
  return { ok: true, header, payload };
}
