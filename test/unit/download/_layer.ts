/**
 * Real layers for the download tests: blobs made by the test eStargz writer, read back through the real
 * reader (`openLayer`) and turned into DownloadEntries the way the image index does for one layer
 * (landmarks hidden, hardlinks resolved to their target's chunks). Plus a BlobSource over memory that can
 * delay answers and records what was asked.
 */

import { createHash } from 'node:crypto';
import type { DownloadEntry } from '../../../src/download/types.js';
import { openLayer } from '../../../src/estargz/layer.js';
import { LANDMARK_NAMES, type LayerToc, type TocEntry } from '../../../src/estargz/types.js';
import type { BlobRangeResponse, BlobSource } from '../../../src/registry/types.js';
import {
  type WriterEntry,
  type WriterOptions,
  type WrittenLayer,
  writeEstargz,
} from '../../helpers/estargz-writer.js';
import { MemoryBlobSource, type MemoryBlobSourceOptions } from '../../helpers/memory-blob-source.js';

export const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface TestLayer {
  digest: string;
  blob: Buffer;
  layer: LayerToc;
  /** every entry but landmarks, in TOC order */
  entries: DownloadEntry[];
  /** the entry at `path`; throws when there is none */
  entry(path: string): DownloadEntry;
}

/** Writes `entries` as an eStargz blob and reads it back with the real reader. */
export async function buildLayer(
  entries: readonly WriterEntry[],
  options: WriterOptions = {},
): Promise<TestLayer & { written: WrittenLayer }> {
  const written = writeEstargz(entries, options);
  return { ...(await readLayer(written.blob)), written };
}

/** Reads any eStargz blob with the real reader into DownloadEntries. */
export async function readLayer(blob: Buffer): Promise<TestLayer> {
  const source = new MemoryBlobSource(blob);
  const layer = await openLayer(source);
  const list = toDownloadEntries(layer.toc.entries, source.digest);
  const byPath = new Map(list.map((entry) => [entry.path, entry]));
  return {
    digest: source.digest,
    blob,
    layer,
    entries: list,
    entry(path) {
      const found = byPath.get(path);
      if (!found) throw new Error(`no entry ${path} in the test layer`);
      return found;
    },
  };
}

/** One layer's TOC entries as the downloader gets them (what ImageIndex does for a single layer). */
export function toDownloadEntries(entries: readonly TocEntry[], layerDigest: string): DownloadEntry[] {
  const byName = new Map<string, TocEntry>();
  const out: DownloadEntry[] = [];
  for (const toc of entries) {
    byName.set(toc.name, toc);
    if (LANDMARK_NAMES.has(toc.name)) continue;
    const entry: DownloadEntry = {
      path: toc.name,
      type: toc.type === 'hardlink' ? 'reg' : toc.type,
      mode: toc.mode,
      uid: toc.uid,
      gid: toc.gid,
      size: toc.size,
      chunks: toc.chunks,
      layerDigest,
      devMajor: toc.devMajor,
      devMinor: toc.devMinor,
      xattrs: toc.xattrs,
    };
    if (toc.modtime !== undefined) entry.modtime = toc.modtime;
    if (toc.digest !== undefined) entry.digest = toc.digest;
    if (toc.type === 'symlink') entry.linkName = toc.linkName;
    if (toc.type === 'hardlink') {
      const target = byName.get(toc.linkName);
      if (target?.type !== 'reg') throw new Error(`hardlink ${toc.name} has no regular target`);
      Object.assign(entry, {
        size: target.size,
        chunks: target.chunks,
        hardlinkOf: target.name,
        sourcePath: target.name,
        ...(target.digest === undefined ? {} : { digest: target.digest }),
      });
    }
    out.push(entry);
  }
  return out;
}

export interface TestSourceOptions extends MemoryBlobSourceOptions {
  /** awaited before answering a read starting at `start` */
  delay?: (start: number) => Promise<void>;
}

/** A BlobSource over memory that records the ranges asked for and can delay its answers. */
export class TestBlobSource implements BlobSource {
  readonly digest: string;
  readonly size: number;
  readonly #inner: MemoryBlobSource;
  readonly #delay: ((start: number) => Promise<void>) | undefined;

  constructor(blob: Uint8Array, options: TestSourceOptions = {}) {
    const { delay, ...rest } = options;
    this.#inner = new MemoryBlobSource(blob, rest);
    this.#delay = delay;
    this.digest = this.#inner.digest;
    this.size = this.#inner.size;
  }

  /** every range asked for (also those cancelled while waiting), as [start, end) pairs */
  readonly asked: [number, number][] = [];

  /** body bytes handed out so far */
  get bytesServed(): number {
    return this.#inner.bytesServed;
  }

  async readRange(
    start: number,
    end: number,
    options?: { signal?: AbortSignal },
  ): Promise<BlobRangeResponse> {
    this.asked.push([start, end]);
    await this.#delay?.(start);
    return this.#inner.readRange(start, end, options);
  }
}

/** A source map for the downloader: one TestBlobSource per layer. */
export function sourcesOf(
  layers: readonly TestLayer[],
  options: TestSourceOptions = {},
): Map<string, TestBlobSource> {
  return new Map(layers.map((layer) => [layer.digest, new TestBlobSource(layer.blob, options)]));
}
