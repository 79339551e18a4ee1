/**
 * Manifest entries of the cache (a manifest's bytes under its digest, checked against it) and platform
 * choices (which image manifest an index lists for a platform).
 */

import type { Platform } from '../registry/types.js';
import { matchesDigest, parseDigest } from './digest.js';
import { type EntryHeader, encodeEntry, MAX_HEADER_BYTES } from './entry-file.js';

export interface CachedManifest {
  bytes: Uint8Array;
  mediaType?: string;
}

/** The image manifest an index lists for a platform (see `getPlatformChoice`). */
export interface PlatformChoice {
  /** digest of the image manifest */
  digest: string;
  /** the platform of the index entry, as the index gives it */
  platform?: Platform;
}

/** The manifest a loaded entry holds for `digest`, or the problem that makes it unusable. */
export function manifestFromEntry(
  header: EntryHeader,
  payload: Uint8Array,
  digest: string,
): { manifest: CachedManifest } | { problem: string } {
  const problem =
    header.kind !== 'manifest' || header.digest !== digest
      ? 'entry belongs to another manifest'
      : !matchesDigest(payload, digest)
        ? 'manifest bytes do not match their digest'
        : undefined;
  if (problem !== undefined || header.kind !== 'manifest') {
    return { problem: problem ?? 'not a manifest entry' };
  }
  return {
    manifest:
      header.mediaType === undefined ? { bytes: payload } : { bytes: payload, mediaType: header.mediaType },
  };
}

/** The entry bytes storing manifest `bytes` under `digest` (the caller checked size and digest). */
export function manifestEntryBytes(digest: string, bytes: Uint8Array, mediaType?: string): Uint8Array {
  const header =
    mediaType === undefined
      ? ({ format: 'starget-cache/1', kind: 'manifest', digest, payloadBytes: bytes.length } as const)
      : ({
          format: 'starget-cache/1',
          kind: 'manifest',
          digest,
          mediaType,
          payloadBytes: bytes.length,
        } as const);
  return encodeEntry(header, bytes);
}

/** The platform choice a loaded entry records for `indexDigest` and `platform`, or undefined. */
export function platformChoiceFromEntry(
  header: EntryHeader,
  payload: Uint8Array,
  indexDigest: string,
  platform: string,
): PlatformChoice | undefined {
  if (header.kind === 'platform' && header.indexDigest === indexDigest && header.platform === platform) {
    return parseChoice(payload);
  }
  return undefined;
}

/** The entry bytes recording `choice`, or why it is refused (a malformed digest, too long). */
export function platformChoiceEntryBytes(
  indexDigest: string,
  platform: string,
  choice: PlatformChoice,
): { bytes: Uint8Array } | { refused: string } {
  if (parseDigest(choice.digest) === undefined) return { refused: 'malformed digest' };
  const payload = Buffer.from(JSON.stringify(choice), 'utf8');
  if (payload.length > MAX_HEADER_BYTES) return { refused: 'platform choice too long' };
  const header = {
    format: 'starget-cache/1',
    kind: 'platform',
    indexDigest,
    platform,
    payloadBytes: payload.length,
  } as const;
  return { bytes: encodeEntry(header, payload) };
}

function parseChoice(payload: Uint8Array): PlatformChoice | undefined {
  try {
    const value = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    if (typeof value['digest'] !== 'string' || parseDigest(value['digest']) === undefined) return undefined;
    const platform = value['platform'] as Record<string, unknown> | undefined;
    if (platform === undefined) return { digest: value['digest'] };
    if (typeof platform['os'] !== 'string' || typeof platform['architecture'] !== 'string') return undefined;
    return { digest: value['digest'], platform: platform as unknown as Platform };
  } catch {
    return undefined;
  }
}
