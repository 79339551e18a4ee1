/** Deterministic TOC-like JSON of a given size, with its digest, for the cache tests. */

import { createHash } from 'node:crypto';
import type { CachedToc } from '../../../src/cache/index.js';

export function makeToc(approxBytes: number, seed = 'a'): CachedToc {
  const entries: string[] = [];
  let size = 0;
  for (let i = 0; size < approxBytes; i++) {
    const entry = `{"name":"usr/share/${seed}/file-${i}.txt","type":"reg","size":${i * 7},"offset":${i * 512}}`;
    entries.push(entry);
    size += entry.length + 1;
  }
  const tocJson = Buffer.from(`{"version":1,"entries":[${entries.join(',')}]}`);
  const tocDigest = `sha256:${createHash('sha256').update(tocJson).digest('hex')}`;
  const tocOffset = 10_000_000;
  return {
    tocJson,
    tocDigest,
    footer: { kind: 'estargz', size: 51, tocOffset },
    blobSize: tocOffset + 200_000,
  };
}

export const layerDigestFor = (name: string): string =>
  `sha256:${createHash('sha256').update(`layer ${name}`).digest('hex')}`;
