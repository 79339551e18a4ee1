/**
 * mergeLayers against a plain model of the README's merged-view rules (a flat map with prefix scans, quadratic
 * and obviously right), on random small layer stacks.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TocEntry } from '../../../src/estargz/types.js';
import { mergeLayers } from '../../../src/image/merge.js';
import { dir, file, layer, symlink, whiteout } from './toc-builder.js';

interface ModelEntry {
  type: string;
  mode: number;
  layer: number;
  implied: boolean;
}

function deleteTree(view: Map<string, ModelEntry>, path: string): void {
  view.delete(path);
  for (const key of [...view.keys()]) if (key.startsWith(path + '/')) view.delete(key);
}

function model(layers: TocEntry[][]): string[] {
  const view = new Map<string, ModelEntry>();
  layers.forEach((entries, li) => {
    for (const e of entries) {
      const slash = e.name.lastIndexOf('/');
      const parent = slash < 0 ? '' : e.name.slice(0, slash);
      const base = e.name.slice(slash + 1);
      if (base === '.wh..wh..opq') {
        if (parent === '') view.clear();
        else if (view.get(parent)?.type === 'dir') {
          for (const key of [...view.keys()]) if (key.startsWith(parent + '/')) view.delete(key);
        }
      } else if (base.startsWith('.wh.')) {
        deleteTree(view, (parent === '' ? '' : parent + '/') + base.slice(4));
      }
    }
    const ensureParents = (path: string) => {
      const parts = path.split('/');
      for (let k = 1; k < parts.length; k++) {
        const p = parts.slice(0, k).join('/');
        const existing = view.get(p);
        if (existing?.type === 'dir') {
          if (existing.implied) existing.layer = li;
          continue;
        }
        if (existing) deleteTree(view, p);
        view.set(p, { type: 'dir', mode: 0o755, layer: li, implied: true });
      }
    };
    for (const e of entries) {
      const base = e.name.slice(e.name.lastIndexOf('/') + 1);
      ensureParents(e.name);
      if (base.startsWith('.wh.')) continue;
      const existing = view.get(e.name);
      if (!(e.type === 'dir' && existing?.type === 'dir')) deleteTree(view, e.name);
      view.set(e.name, { type: e.type, mode: e.mode, layer: li, implied: false });
    }
  });
  return [...view.entries()]
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map(([p, e]) => `${p} ${e.type} ${e.mode.toString(8)} ${e.layer}${e.implied ? ' implied' : ''}`);
}

const segment = fc.constantFrom('a', 'b', 'a b', 'é');
const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const tocEntry = fc.oneof(
  fc.tuple(path, fc.constantFrom(0o700, 0o755)).map(([p, mode]) => dir(p, { mode })),
  fc.tuple(path, fc.constantFrom(0o600, 0o644)).map(([p, mode]) => file(p, { mode })),
  path.map((p) => symlink(p, 'x')),
  path.map((p) => {
    const slash = p.lastIndexOf('/');
    return whiteout(`${p.slice(0, slash + 1)}.wh.${p.slice(slash + 1)}`);
  }),
  path.map((p) => whiteout(`${p}/.wh..wh..opq`)),
  fc.constant(whiteout('.wh..wh..opq')),
);

describe('mergeLayers = the model of the merged-view rules', () => {
  it('on random stacks of up to 4 layers', () => {
    fc.assert(
      fc.property(fc.array(fc.array(tocEntry, { maxLength: 8 }), { minLength: 1, maxLength: 4 }), (stack) => {
        const view = mergeLayers(stack.map((entries, i) => layer(i + 1, ...entries)));
        const actual = [...view.values()].map(
          (e) => `${e.path} ${e.type} ${e.mode.toString(8)} ${e.layerIndex}${e.implied ? ' implied' : ''}`,
        );
        expect(actual).toEqual(model(stack));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000), seed: Number(process.env.FUZZ_SEED ?? 20261130) },
    );
  });
});
