/**
 * tocSubset: the view of the subset at the asked paths equals the full merged view's, on every fixture
 * image and on random layer stacks with whiteouts, opaque directories, symlinks and hardlinks.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { openLayer } from '../../../src/estargz/layer.js';
import type { TocEntry, TocEntryType } from '../../../src/estargz/types.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import type { IndexLayerInput } from '../../../src/image/types.js';
import { tocSubset } from '../../../src/toc-subset.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';

/** What a lookup gives, or the error code and message it throws. */
function outcome(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (error) {
    if (!StargzError.is(error)) throw error;
    return { code: error.code, message: error.message };
  }
}

/** Every lookup the facade makes for `path`, on the full view and on the subset's view. */
function expectSameAnswers(layers: IndexLayerInput[], path: string): void {
  let full: ImageIndex;
  try {
    full = new ImageIndex(layers);
  } catch {
    return; // a stack the merge itself rejects (hardlink to nothing): nothing to compare
  }
  const subset = tocSubset(layers, [path]);
  if (subset === undefined) return;
  const part = new ImageIndex(subset);
  for (const pattern of [path, `${path}/`, `/${path}`]) {
    expect(
      outcome(() => part.filterFiles([pattern])),
      pattern,
    ).toEqual(outcome(() => full.filterFiles([pattern])));
  }
  for (const followFinal of [false, true]) {
    expect(outcome(() => part.findFile(path, undefined, { followFinal }))).toEqual(
      outcome(() => full.findFile(path, undefined, { followFinal })),
    );
  }
  const kept = subset.reduce((n, layer) => n + layer.toc.entries.length, 0);
  expect(kept).toBeLessThanOrEqual(layers.reduce((n, layer) => n + layer.toc.entries.length, 0));
}

const IMAGES = join(import.meta.dirname, '../../fixtures/images');

async function fixtureLayers(image: string): Promise<IndexLayerInput[][]> {
  const dir = join(IMAGES, image, 'layout', 'blobs', 'sha256');
  const read = (digest: string) => readFileSync(join(dir, digest.slice('sha256:'.length)));
  const json = (digest: string) => JSON.parse(read(digest).toString('utf8'));
  const index = JSON.parse(readFileSync(join(IMAGES, image, 'layout', 'index.json'), 'utf8'));
  const top = index.manifests[0];
  const manifests = top.mediaType.includes('index') ? json(top.digest).manifests : [top];
  const out: IndexLayerInput[][] = [];
  for (const manifest of manifests) {
    const layers: IndexLayerInput[] = [];
    for (const layer of json(manifest.digest).layers) {
      const opened = await openLayer(new MemoryBlobSource(read(layer.digest))).catch(() => undefined);
      if (opened === undefined) break; // not eStargz
      layers.push({ digest: layer.digest, toc: opened.toc });
    }
    if (layers.length === json(manifest.digest).layers.length) out.push(layers);
  }
  return out;
}

describe('tocSubset on the fixture images', () => {
  const images = readdirSync(IMAGES).filter((name) => name !== 'mini-plain');
  it.each(images)('%s: every path (and some absent ones) answers as the full view', async (image) => {
    for (const layers of await fixtureLayers(image)) {
      const names = new Set<string>(['nope', 'bin/nope', 'a/b/c']);
      for (const layer of layers) for (const entry of layer.toc.entries) names.add(entry.name);
      for (const path of new ImageIndex(layers).entries()) names.add(path.path);
      for (const name of names) if (name !== '') expectSameAnswers(layers, name);
    }
  });
});

describe('tocSubset on random layer stacks', () => {
  const segment = fc.constantFrom('a', 'b', 'c', '.wh.a', '.wh.b', '.wh..wh..opq');
  const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
  const target = fc.oneof(
    path,
    path.map((p) => `/${p}`),
    path.map((p) => `../${p}`),
    fc.constantFrom('.', '..', '/'),
  );
  const entry = fc.record({
    name: path,
    type: fc.constantFrom<TocEntryType>('dir', 'reg', 'reg', 'symlink', 'hardlink'),
    linkName: target,
  });
  const layer = fc.array(entry, { maxLength: 12 });

  function toLayers(stack: Array<Array<{ name: string; type: TocEntryType; linkName: string }>>) {
    return stack.map((entries, i) => ({
      digest: `sha256:${String(i).repeat(64)}`,
      toc: {
        entries: entries.map(
          (e, j): TocEntry => ({
            name: e.name,
            rawName: e.name,
            type: e.type,
            size: e.type === 'reg' ? j + 1 : 0,
            mode: 0o644 + j,
            uid: 0,
            gid: 0,
            linkName:
              e.type === 'hardlink' ? e.linkName.replace(/^\/+/, '') : e.type === 'symlink' ? e.linkName : '',
            devMajor: 0,
            devMinor: 0,
            xattrs: {},
            chunks: [],
          }),
        ),
      },
    }));
  }

  it('answers every path as the full view does', () => {
    fc.assert(
      fc.property(fc.array(layer, { minLength: 1, maxLength: 3 }), path, (stack, asked) => {
        expectSameAnswers(toLayers(stack), asked);
      }),
      // a fixed seed in npm test (FUZZ_SEED / FUZZ_RUNS explore further, as in test/fuzz)
      {
        numRuns: Number(process.env.FUZZ_RUNS ?? 3000),
        seed: Number(process.env.FUZZ_SEED ?? 20261130),
      },
    );
  });

  it('keeps the entries below a symlinked ancestor that make it a directory (found by the property)', () => {
    // b is a symlink to '.', but b/a below it makes b a directory in the view: b/c is then not c
    const stack = [
      [
        { name: 'b', type: 'symlink' as const, linkName: '.' },
        { name: 'b/a', type: 'dir' as const, linkName: '' },
        { name: 'c', type: 'dir' as const, linkName: '' },
      ],
    ];
    expectSameAnswers(toLayers(stack), 'b/c');
  });
});
