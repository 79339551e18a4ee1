/**
 * What the benchmark needs to know about its own layers to judge the client: where each TOC starts and
 * which compressed bytes a file needs. Read straight from the blob (footer, TOC member), independently of
 * starget's own parser, so the bench does not grade starget with starget.
 */

import { gunzipSync } from 'node:zlib';

export interface FactEntry {
  name: string;
  type: string;
  size: number;
  offset: number;
  innerOffset: number;
}

export interface LayerFacts {
  digest: string;
  size: number;
  tocOffset: number;
  /** bytes from the TOC member start to the end of the blob (TOC + footer) */
  tailBytes: number;
  entries: FactEntry[];
}

const FOOTER_SIZES = [51, 47];

function readTocOffset(blob: Buffer): { tocOffset: number; footerSize: number } {
  for (const footerSize of FOOTER_SIZES) {
    const footer = blob.subarray(blob.length - footerSize);
    const text = footer.subarray(16, 16 + 22).toString('latin1');
    const legacy = footer.subarray(12, 12 + 22).toString('latin1');
    const candidate = footerSize === 51 ? text : legacy;
    if (candidate.endsWith('STARGZ') && /^[0-9a-f]{16}$/.test(candidate.slice(0, 16))) {
      return { tocOffset: Number.parseInt(candidate.slice(0, 16), 16), footerSize };
    }
  }
  throw new Error('benchmark layer has no eStargz footer');
}

/** Reads the footer and TOC of an eStargz blob held in memory. */
export function layerFacts(digest: string, blob: Buffer): LayerFacts {
  const { tocOffset, footerSize } = readTocOffset(blob);
  const tar = gunzipSync(blob.subarray(tocOffset, blob.length - footerSize));
  const size = Number.parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim(), 8);
  const toc = JSON.parse(tar.subarray(512, 512 + size).toString('utf8')) as {
    entries: Array<Partial<FactEntry> & { name: string; type: string }>;
  };
  const entries = toc.entries.map((e) => ({
    name: e.name.replace(/^\.?\//, ''),
    type: e.type,
    size: e.size ?? 0,
    offset: e.offset ?? 0,
    innerOffset: e.innerOffset ?? 0,
  }));
  return { digest, size: blob.length, tocOffset, tailBytes: blob.length - tocOffset, entries };
}

/** The compressed byte extents [start, end) a set of file names needs, merged where they touch. */
export function extentsFor(facts: LayerFacts, wanted: (name: string) => boolean): Array<[number, number]> {
  const starts = [
    ...new Set(facts.entries.filter((e) => e.offset > 0 && e.innerOffset === 0).map((e) => e.offset)),
  ]
    .sort((a, b) => a - b)
    .concat([facts.tocOffset]);
  const endOf = (offset: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    return starts[lo]!;
  };
  const raw = facts.entries
    .filter((e) => (e.type === 'reg' || e.type === 'chunk') && e.offset > 0 && wanted(e.name))
    .map((e): [number, number] => [e.offset, endOf(e.offset)])
    .sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of raw) {
    const last = merged[merged.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

export const extentBytes = (extents: Array<[number, number]>): number =>
  extents.reduce((sum, [start, end]) => sum + (end - start), 0);

/** Bytes of [start, end) that fall in the TOC-and-footer tail of the layer. */
export function tailOverlap(facts: LayerFacts, start: number, end: number): number {
  return Math.max(0, Math.min(end, facts.size) - Math.max(start, facts.tocOffset));
}
