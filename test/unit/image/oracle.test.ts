/**
 * The merged view of every fixture image, read through the eStargz reader from its OCI layout, equals the
 * oracle `expected/manifest.tsv` row for row (mini-multi: per platform).
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { openLayer } from '../../../src/estargz/layer.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import type { IndexLayerInput } from '../../../src/image/types.js';
import type { Descriptor } from '../../../src/registry/types.js';
import { diffManifest, manifestRows, readManifestTsv } from '../../helpers/manifest-tsv.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';

const IMAGES = join(import.meta.dirname, '../../fixtures/images');
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';

interface PlatformImage {
  image: string;
  /** `os-arch`, or undefined for a single-manifest image */
  platform?: string;
  layers: Descriptor[];
}

function readJson(image: string, ...path: string[]): Record<string, unknown> {
  return JSON.parse(readFileSync(join(IMAGES, image, 'layout', ...path), 'utf8')) as Record<string, unknown>;
}

function blobPath(digest: string): string[] {
  return ['blobs', ...digest.split(':')];
}

/** Walks an OCI layout from tag v1 to the layer descriptors of every platform manifest. */
function platformImages(image: string): PlatformImage[] {
  const index = readJson(image, 'index.json') as { manifests: Descriptor[] };
  const tagged = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'v1');
  if (!tagged) throw new Error(`${image}: no tag v1`);
  if (INDEX_TYPES.has(tagged.mediaType)) {
    const list = readJson(image, ...blobPath(tagged.digest)) as { manifests: Descriptor[] };
    return list.manifests.map((m) => ({
      image,
      platform: `${m.platform!.os}-${m.platform!.architecture}`,
      layers: (readJson(image, ...blobPath(m.digest)) as { layers: Descriptor[] }).layers,
    }));
  }
  return [
    {
      image,
      layers: (readJson(image, ...blobPath(tagged.digest)) as { layers: Descriptor[] }).layers,
    },
  ];
}

async function openImage({ image, layers }: PlatformImage): Promise<ImageIndex> {
  const inputs: IndexLayerInput[] = [];
  for (const descriptor of layers) {
    const blob = readFileSync(join(IMAGES, image, 'layout', ...blobPath(descriptor.digest)));
    const source = new MemoryBlobSource(blob);
    expect(source.digest).toBe(descriptor.digest);
    const expectedTocDigest = descriptor.annotations?.[TOC_DIGEST_ANNOTATION];
    const { toc } = await openLayer(source, expectedTocDigest === undefined ? {} : { expectedTocDigest });
    inputs.push({ digest: descriptor.digest, toc, descriptor });
  }
  return new ImageIndex(inputs);
}

const cases = readdirSync(IMAGES)
  .sort()
  .flatMap(platformImages)
  .map((p) => [p.platform ? `${p.image} ${p.platform}` : p.image, p] as const);

describe('merged view = expected/manifest.tsv', () => {
  it.each(cases.filter(([, p]) => p.image !== 'mini-plain'))('%s', async (_name, p) => {
    const index = await openImage(p);
    const oracle = readManifestTsv(join(IMAGES, p.image, 'expected', p.platform ?? '', 'manifest.tsv'));
    expect(diffManifest(oracle, manifestRows(index.entries()))).toEqual([]);
    expect(index.layers.map((l) => l.digest)).toEqual(p.layers.map((l) => l.digest));
  });

  it('mini-plain has no TOC: the reader refuses it, so no view is built', async () => {
    const plain = cases.find(([, p]) => p.image === 'mini-plain')![1];
    const error = await openImage(plain).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_NOT_ESTARGZ');
  });
});

describe('fixture images: lookups on the real views', () => {
  const tricky = () => openImage(cases.find(([name]) => name === 'mini-tricky')![1]);

  it('mini-tricky: layer restriction, patterns, hardlinks', async () => {
    const index = await tricky();
    const [l1, l2, l3] = index.layers.map((l) => l.digest) as [string, string, string];
    // layer 1 alone still has what layer 2 deleted; layer 3 alone has only its own files
    expect(index.findFile('data/hl-orig', l1).size).toBe(75);
    expect(index.stat('data/hl-orig')).toBeUndefined();
    expect(index.findFile('other/hl-survivor', l1).hardlinkOf).toBe('data/hl-orig');
    expect(index.findFile('other/hl-survivor').hardlinkOf).toBeUndefined();
    expect(index.findFile('big/64K-minus-1', l1).size).toBe(65535);
    expect(index.findFile('big/64K-minus-1', l3).size).toBe(22);
    expect(index.findFile('big/64K-minus-1').layerDigest).toBe(l3);
    expect(index.entries(l2).some((e) => e.path.includes('.wh.'))).toBe(false);
    expect(index.findFile('opaque', l1).mode).toBe(0o755);
    expect(index.findFile('opaque').mode).toBe(0o700);
    // a chunked file keeps its chunks, in order, through a hardlink too
    const big = index.findFile('big/random-300K');
    expect(big.chunks.map((c) => c.chunkSize)).toEqual([65536, 65536, 65536, 65536, 45056]);
    expect(index.findFile('other/hl-big').chunks).toEqual(big.chunks);
    expect(index.filterFiles('big/*-1').map((e) => e.path)).toEqual(['big/64K-minus-1', 'big/64K-plus-1']);
    expect(index.filterFiles('data/nested').at(-1)!.path).toBe('data/nested/hl-src');
  });
});
