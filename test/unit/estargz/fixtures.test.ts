import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openLayer } from '../../../src/estargz/layer.js';
import type { TocChunk, TocEntry } from '../../../src/estargz/types.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';
import { cleanName, codeOf, decodeWholeBlob, fixturesDir, readFixture } from './_support.js';

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
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  modtime: string;
  devMajor: number;
  devMinor: number;
  xattrs: Record<string, string> | null;
  nextOffset: number | null;
}

const layerNames = readdirSync(new URL('layers/', fixturesDir))
  .filter((f) => f.endsWith('.blob'))
  .map((f) => f.slice(0, -'.blob'.length));
const estargzLayers = layerNames.filter(
  (name) => JSON.parse(readFixture(`layers/${name}.json`).toString()).isEstargz,
);

/** The TocEntry list an oracle describes, built from the oracle's raw entries by the format's rules. */
function expectedEntries(oracle: OracleEntry[], tocOffset: number, blobSize: number): TocEntry[] {
  const users = new Map<number, string>();
  const groups = new Map<number, string>();
  const out: TocEntry[] = [];
  for (const raw of oracle) {
    const chunkOf = (): TocChunk => {
      const chunk: TocChunk = {
        offset: raw.offset,
        innerOffset: 0,
        // the reference reader ends the last extent at the blob size; the data really ends at the TOC
        compressedEnd: raw.nextOffset === blobSize ? tocOffset : (raw.nextOffset as number),
        chunkOffset: raw.chunkOffset,
        chunkSize: raw.chunkSize,
      };
      if (raw.chunkDigest !== '') chunk.chunkDigest = raw.chunkDigest;
      return chunk;
    };
    if (raw.type === 'chunk') {
      (out[out.length - 1] as TocEntry).chunks.push(chunkOf());
      continue;
    }
    if (raw.userName !== '') users.set(raw.uid, raw.userName);
    if (raw.groupName !== '') groups.set(raw.gid, raw.groupName);
    const entry: TocEntry = {
      name: cleanName(raw.name),
      rawName: raw.name,
      type: raw.type as TocEntry['type'],
      size: raw.size,
      mode: raw.mode,
      uid: raw.uid,
      gid: raw.gid,
      linkName: raw.type === 'hardlink' ? cleanName(raw.linkName) : raw.linkName,
      devMajor: raw.devMajor,
      devMinor: raw.devMinor,
      xattrs: Object.fromEntries(
        Object.entries(raw.xattrs ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
      ),
      chunks: raw.type === 'reg' && raw.size > 0 ? [chunkOf()] : [],
    };
    if (users.has(raw.uid)) entry.userName = users.get(raw.uid) as string;
    if (groups.has(raw.gid)) entry.groupName = groups.get(raw.gid) as string;
    if (raw.modtime !== '') entry.modtime = raw.modtime;
    if (raw.digest !== '') entry.digest = raw.digest;
    out.push(entry);
  }
  for (const entry of out) {
    entry.chunks.forEach((chunk, i) => {
      if (chunk.chunkSize === 0) chunk.chunkSize = entry.size - chunk.chunkOffset;
      if (
        i === 0 &&
        entry.chunks.length === 1 &&
        chunk.chunkDigest === undefined &&
        entry.digest !== undefined
      ) {
        chunk.chunkDigest = entry.digest;
      }
    });
  }
  return out;
}

describe('fixture layers parse exactly as their oracles say', () => {
  it.each(estargzLayers)('%s', async (name) => {
    const oracle = JSON.parse(readFixture(`layers/${name}.json`).toString());
    const blob = readFixture(`layers/${name}.blob`);
    const source = new MemoryBlobSource(blob);
    const layer = await openLayer(source, { expectedTocDigest: oracle.tocDigest });
    expect(source.reads).toHaveLength(1);
    expect(layer.blobSize).toBe(oracle.size);
    expect(layer.footer).toEqual({
      kind: oracle.footer.kind,
      size: oracle.footer.size,
      tocOffset: oracle.footer.tocOffset,
    });
    expect(layer.tocDigest).toBe(oracle.tocDigest);
    expect(layer.toc.version).toBe(oracle.tocVersion);
    expect(layer.toc.entries).toEqual(expectedEntries(oracle.entries, oracle.footer.tocOffset, oracle.size));
    expect(oracle.entries.length).toBeGreaterThanOrEqual(layer.toc.entries.length);

    // every file decodes to its digest through the TOC, and the chunks tile it
    const files = await decodeWholeBlob(blob, layer);
    for (const entry of layer.toc.entries.filter((e) => e.type === 'reg')) {
      const data = files.get(entry.name) ?? Buffer.alloc(0);
      expect(data.length).toBe(entry.size);
      expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(entry.digest);
    }
  });

  it('plain-gzip is not eStargz', async () => {
    const source = new MemoryBlobSource(readFixture('layers/plain-gzip.blob'));
    expect(await codeOf(() => openLayer(source))).toBe('E_NOT_ESTARGZ');
  });
});

interface ImageLayer {
  digest: string;
  size: number;
  isEstargz: boolean;
  footer: string;
  tocOffset: number | null;
  tocDigest: string | null;
  annotations?: Record<string, string>;
}

const images = readdirSync(new URL('images/', fixturesDir));
const imageLayers = images.flatMap((image) => {
  const facts = JSON.parse(readFixture(`images/${image}/layers.json`).toString());
  return (facts.manifests as { layers: ImageLayer[] }[]).flatMap((m) =>
    m.layers.map((layer) => [`${image} ${layer.digest.slice(7, 19)}`, image, layer] as const),
  );
});

describe('fixture image layers open with their TOC digest annotation', () => {
  it.each(imageLayers)('%s', async (_label, image, facts) => {
    const blob = readFixture(`images/${image}/layout/blobs/sha256/${facts.digest.slice(7)}`);
    const source = new MemoryBlobSource(blob);
    expect(source.digest).toBe(facts.digest);
    expect(blob.length).toBe(facts.size);
    if (!facts.isEstargz) {
      expect(await codeOf(() => openLayer(source))).toBe('E_NOT_ESTARGZ');
      return;
    }
    const expectedTocDigest = facts.annotations?.['containerd.io/snapshot/stargz/toc.digest'];
    expect(expectedTocDigest).toBe(facts.tocDigest);
    const layer = await openLayer(source, expectedTocDigest === undefined ? {} : { expectedTocDigest });
    expect(layer.tocDigest).toBe(facts.tocDigest);
    expect(layer.footer.kind).toBe(facts.footer);
    expect(layer.footer.tocOffset).toBe(facts.tocOffset);
  });
});

describe('single-layer images: file contents decoded through the TOC match manifest.tsv', () => {
  it.each(['mini-legacy', 'mini-prefetch'])('%s', async (image) => {
    const facts = JSON.parse(readFixture(`images/${image}/layers.json`).toString());
    const [only] = facts.manifests[0].layers as ImageLayer[];
    const blob = readFixture(`images/${image}/layout/blobs/sha256/${only?.digest.slice(7)}`);
    const layer = await openLayer(new MemoryBlobSource(blob), {
      expectedTocDigest: only?.tocDigest as string,
    });
    const files = await decodeWholeBlob(blob, layer, 1000);
    const rows = readFixture(`images/${image}/expected/manifest.tsv`)
      .toString()
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split('\t'));
    const regs = rows.filter((row) => row[1] === 'reg');
    expect(regs.length).toBeGreaterThan(2);
    for (const [path, , , , , size, sha, , , , hardlinkOf] of regs) {
      const source = hardlinkOf === '-' ? (path as string) : (hardlinkOf as string);
      const data = files.get(source) ?? Buffer.alloc(0);
      expect(data.length, path).toBe(Number(size));
      expect(createHash('sha256').update(data).digest('hex'), path).toBe(sha);
    }
  });
});
