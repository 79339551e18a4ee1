/**
 * Reads a reference layer from test/fixtures/layers (blob + flattened TOC oracle) into DownloadEntries,
 * folding chunk entries and resolving hardlinks the way the TOC reader and image index do. A stand-in
 * until the estargz and image branches are on main; then tests should use their real parsers.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DownloadEntry } from '../../../src/download/types.js';

interface OracleEntry {
  name: string;
  type: string;
  size: number;
  offset: number;
  chunkOffset: number;
  chunkSize: number;
  chunkDigest: string;
  digest: string;
  linkName: string;
  mode: number;
  modtime: string;
  nextOffset: number | null;
}

export interface FixtureLayer {
  digest: string;
  blob: Buffer;
  entries: DownloadEntry[];
}

export async function loadFixtureLayer(name: string): Promise<FixtureLayer> {
  const dir = join(import.meta.dirname, '../../fixtures/layers');
  const oracle = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8'));
  const blob = await readFile(join(dir, oracle.blob));
  const tocOffset: number = oracle.footer.tocOffset;
  const byPath = new Map<string, DownloadEntry>();
  const order: DownloadEntry[] = [];
  const clean = (raw: string) =>
    raw
      .split('/')
      .filter((p) => p && p !== '.')
      .join('/');
  for (const e of oracle.entries as OracleEntry[]) {
    const path = clean(e.name);
    if (path === '.no.prefetch.landmark' || path === '.prefetch.landmark') continue;
    const chunk = () => ({
      offset: e.offset,
      innerOffset: 0,
      compressedEnd: Math.min(e.nextOffset ?? tocOffset, tocOffset),
      chunkOffset: e.chunkOffset,
      chunkSize: 0,
      ...(e.chunkDigest ? { chunkDigest: e.chunkDigest } : {}),
    });
    if (e.type === 'chunk') {
      byPath.get(path)!.chunks = [...byPath.get(path)!.chunks, chunk()];
      continue;
    }
    const entry: DownloadEntry = {
      path,
      type: e.type === 'hardlink' ? 'reg' : (e.type as DownloadEntry['type']),
      mode: e.mode,
      uid: 0,
      gid: 0,
      size: e.size,
      modtime: e.modtime || undefined,
      linkName: e.type === 'symlink' ? e.linkName : undefined,
      digest: e.digest || undefined,
      chunks: e.type === 'reg' && e.size > 0 ? [chunk()] : [],
      layerDigest: oracle.digest,
    };
    if (e.type === 'hardlink') {
      const target = byPath.get(clean(e.linkName))!;
      Object.assign(entry, { hardlinkOf: target.path, size: target.size, digest: target.digest });
      Object.defineProperty(entry, 'chunks', { get: () => target.chunks, enumerable: true });
    }
    byPath.set(path, entry);
    order.push(entry);
  }
  for (const entry of order) {
    const chunks = entry.chunks.map((c, i, all) => ({
      ...c,
      chunkSize: (all[i + 1]?.chunkOffset ?? entry.size) - c.chunkOffset,
    }));
    if (!entry.hardlinkOf) entry.chunks = chunks;
  }
  return { digest: oracle.digest, blob, entries: order };
}
