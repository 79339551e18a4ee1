import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache, cachedTocLoader, type LayerTocWithRaw } from '../../../src/cache/index.js';
import { openLayer } from '../../../src/estargz/layer.js';
import type { LayerToc } from '../../../src/estargz/types.js';
import { type WrittenLayer, writeEstargz } from '../../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starget-toc-loader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function layerOf(files: number): WrittenLayer {
  return writeEstargz(
    Array.from({ length: files }, (_, i) => ({
      type: 'reg' as const,
      name: `etc/file-${i}.conf`,
      content: Buffer.from(`value ${i}\n`.repeat(i + 1)),
    })),
  );
}

/** An `open` that reads the layer for real and counts its calls; `raw` hands over the TOC member too. */
function opener(written: WrittenLayer, raw: 'member' | 'json' | 'none') {
  const source = new MemoryBlobSource(written.blob);
  const calls = { n: 0 };
  const open = async (): Promise<LayerToc> => {
    calls.n++;
    const layer: LayerTocWithRaw = await openLayer(source);
    if (raw === 'member')
      layer.tocMember = written.blob.subarray(layer.footer.tocOffset, layer.blobSize - layer.footer.size);
    if (raw === 'json') layer.tocJson = Buffer.from(written.tocJson);
    return layer;
  };
  return { open, calls, source };
}

describe('cachedTocLoader', () => {
  it.each(['member', 'json'] as const)(
    'serves the second open from the cache (raw TOC as %s)',
    async (raw) => {
      const written = layerOf(50);
      const cache = new ContentCache({ dir });
      const load = cachedTocLoader(cache);
      const layer = { digest: written.digest, annotatedTocDigest: written.tocDigest };
      const { open, calls, source } = opener(written, raw);

      const first = await load(layer, open);
      await cache.flush();
      const readsAfterFirst = source.reads.length;
      const second = await load(layer, open);
      expect(calls.n).toBe(1);
      expect(source.reads.length).toBe(readsAfterFirst);
      expect(second.tocDigest).toBe(first.tocDigest);
      expect(second.footer).toEqual(first.footer);
      expect(second.blobSize).toBe(first.blobSize);
      expect(second.toc).toEqual(first.toc);
      // a fresh process (a new cache instance on the same directory) hits too
      await cachedTocLoader(new ContentCache({ dir }))(layer, open);
      expect(calls.n).toBe(1);
    },
  );

  it('does not cache when the reader keeps no raw TOC', async () => {
    const written = layerOf(5);
    const cache = new ContentCache({ dir });
    const load = cachedTocLoader(cache);
    const { open, calls } = opener(written, 'none');
    await load({ digest: written.digest }, open);
    await cache.flush();
    await load({ digest: written.digest }, open);
    expect(calls.n).toBe(2);
    expect((await cache.info()).entries).toBe(0);
  });

  it('reads the layer again when the annotation names another TOC digest', async () => {
    const written = layerOf(5);
    const other = layerOf(6);
    const cache = new ContentCache({ dir });
    const load = cachedTocLoader(cache);
    const { open, calls } = opener(written, 'member');
    await load({ digest: written.digest }, open);
    await cache.flush();
    await load({ digest: written.digest, annotatedTocDigest: other.tocDigest }, open);
    expect(calls.n).toBe(2);
  });

  it('reads the layer again when the cached entry was damaged, and heals the cache', async () => {
    const written = layerOf(20);
    const cache = new ContentCache({ dir });
    const load = cachedTocLoader(cache);
    const { open, calls } = opener(written, 'member');
    await load({ digest: written.digest }, open);
    await cache.flush();
    const tocDir = join(dir, 'v1', 'toc', 'sha256');
    const [name] = await readdir(tocDir);
    await writeFile(join(tocDir, name!), 'damaged');
    await load({ digest: written.digest }, open);
    await cache.flush();
    await load({ digest: written.digest }, open);
    expect(calls.n).toBe(2);
    expect(cache.stats()).toMatchObject({ discarded: 1, tocHits: 1 });
  });
});
