/** Content digests as the cache keys and checks them: `sha256:<64 hex>` or `sha512:<128 hex>`. */

import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/**
 * Splits a digest into algorithm and hex, or returns undefined when it is not a well-formed sha256/sha512
 * digest. The strict form is what makes a digest safe to use as a file name.
 */
export function parseDigest(digest: string): ParsedDigest | undefined {
  if (!DIGEST_PATTERN.test(digest)) return undefined;
  const colon = digest.indexOf(':');
  return { algorithm: digest.slice(0, colon) as DigestAlgorithm, hex: digest.slice(colon + 1) };
}

/** The digest of `bytes` with `algorithm`, as `algorithm:<hex>`. */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** True when `bytes` hash to `digest` (false for a malformed digest). */
export function matchesDigest(bytes: Uint8Array, digest: string): boolean {
  const parsed = parseDigest(digest);
  if (parsed === undefined) return false;
  return digestOf(bytes, parsed.algorithm) === digest;
}
