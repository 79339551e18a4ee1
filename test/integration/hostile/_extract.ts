/**
 * Runs hostile layers through the library's real chain without a network: openLayer → ImageIndex →
 * filterFiles → Downloader, over in-memory blobs. Plus a builder of hand-made layers for what the test
 * writer refuses to make (a member whose payload exceeds its declared size, an oversized TOC).
 */

import { gzipSync } from 'node:zlib';
import { Downloader } from '../../../src/download/downloader.js';
import type { DownloadOptions, DownloadResult } from '../../../src/download/job.js';
import { openLayer } from '../../../src/estargz/layer.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import { footerBytes } from '../../helpers/estargz-writer.js';
import { MemoryBlobSource, type MemoryBlobSourceOptions } from '../../helpers/memory-blob-source.js';
import { tarOf } from '../../helpers/tar.js';

/** Extracts `patterns` of the image made of `layers` (bottom first) into `outDir`. */
export async function extract(
  layers: readonly Buffer[],
  outDir: string,
  patterns: string[] = ['.'],
  options: { download?: DownloadOptions; source?: MemoryBlobSourceOptions } = {},
): Promise<DownloadResult> {
  const sources = new Map<string, MemoryBlobSource>();
  const inputs = [];
  for (const blob of layers) {
    const source = new MemoryBlobSource(blob, options.source);
    sources.set(source.digest, source);
    inputs.push({ digest: source.digest, toc: (await openLayer(source)).toc });
  }
  const entries = new ImageIndex(inputs).filterFiles(patterns);
  return new Downloader({ sources }).startDownload({ entries, outDir, options: options.download }).done;
}

/**
 * A layer of the given compressed payload members followed by a TOC whose entries are `toc(offsets)`
 * (offsets: where each member starts), or by `tocMember` as is.
 */
export function handLayer(
  members: readonly Buffer[],
  toc: (offsets: number[]) => unknown[],
  tocMember?: Buffer,
): Buffer {
  const offsets: number[] = [];
  let at = 0;
  for (const member of members) {
    offsets.push(at);
    at += member.length;
  }
  const json = Buffer.from(JSON.stringify({ version: 1, entries: toc(offsets) }));
  const tocBytes = tocMember ?? gzipSync(tarOf('stargz.index.json', json));
  return Buffer.concat([...members, tocBytes, footerBytes(at, 'estargz')]);
}
