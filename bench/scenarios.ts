/**
 * The six scenarios of the benchmark: what starget is asked, what the baseline picks out of the unpacked
 * tree, and what a correct answer looks like (so a failing command is never measured as a fast one).
 */

import { PICKS } from './image-spec.js';
import type { BenchImage } from './images.js';
import { extentBytes, extentsFor } from './layer-facts.js';

export type ScenarioId = 'P1' | 'P2' | 'P3' | 'P4' | 'P5' | 'P6';

export interface Scenario {
  id: ScenarioId;
  title: string;
  image: 'realistic' | 'manySmall';
  /** run with the TOCs already cached */
  warm: boolean;
  /** starget arguments after the global ones; OUT is the output directory */
  args(reference: string, outDir: string): string[];
  /** the path the baseline copies out of the unpacked tree; undefined: the whole tree is the answer */
  pick: string | undefined;
  /** the baseline lists the tree instead of copying */
  list?: boolean;
  /** what the output must hold: regular files and their total bytes, or (for ls) at least this many lines */
  expect(image: BenchImage): { files?: number; bytes?: number; lines?: number };
  /** bytes a perfect client needs for the content (file members), not counting TOCs */
  contentBytes(image: BenchImage): number;
}

const under = (dir: string) => (name: string) => name === dir || name.startsWith(`${dir}/`);

function filesMatching(image: BenchImage, wanted: (name: string) => boolean) {
  let files = 0;
  let bytes = 0;
  for (const [name, size] of image.files) {
    if (!wanted(name)) continue;
    files++;
    bytes += size;
  }
  return { files, bytes };
}

function membersBytes(image: BenchImage, wanted: (name: string) => boolean): number {
  return image.layers.reduce((sum, layer) => sum + extentBytes(extentsFor(layer, wanted)), 0);
}

const exactly = (path: string) => (name: string) => name === path;
const everything = () => true;

export const SCENARIOS: Scenario[] = [
  {
    id: 'P1',
    title: 'one small file, cold',
    image: 'realistic',
    warm: false,
    args: (ref, out) => ['get', ref, PICKS.smallFile, '-o', out],
    pick: PICKS.smallFile,
    expect: (image) => filesMatching(image, exactly(PICKS.smallFile)),
    contentBytes: (image) => membersBytes(image, exactly(PICKS.smallFile)),
  },
  {
    id: 'P2',
    title: `a directory (${PICKS.directory}), cold`,
    image: 'realistic',
    warm: false,
    args: (ref, out) => ['get', ref, `${PICKS.directory}/`, '-o', out],
    pick: PICKS.directory,
    expect: (image) => filesMatching(image, under(PICKS.directory)),
    contentBytes: (image) => membersBytes(image, under(PICKS.directory)),
  },
  {
    id: 'P3',
    title: 'the whole image, cold',
    image: 'realistic',
    warm: false,
    args: (ref, out) => ['get', ref, '.', '-o', out],
    pick: undefined,
    expect: (image) => filesMatching(image, everything),
    contentBytes: (image) => membersBytes(image, everything),
  },
  {
    id: 'P4',
    title: 'one small file, warm (TOCs cached)',
    image: 'realistic',
    warm: true,
    args: (ref, out) => ['get', ref, PICKS.smallFile, '-o', out],
    pick: PICKS.smallFile,
    expect: (image) => filesMatching(image, exactly(PICKS.smallFile)),
    contentBytes: (image) => membersBytes(image, exactly(PICKS.smallFile)),
  },
  {
    id: 'P5',
    title: 'ls of the many-small-files layer, cold',
    image: 'manySmall',
    warm: false,
    args: (ref) => ['ls', ref],
    pick: undefined,
    list: true,
    expect: (image) => ({ lines: image.files.size }),
    contentBytes: () => 0,
  },
  {
    id: 'P6',
    title: `the big file (${PICKS.bigFile}), cold`,
    image: 'realistic',
    warm: false,
    args: (ref, out) => ['get', ref, PICKS.bigFile, '-o', out],
    pick: PICKS.bigFile,
    expect: (image) => filesMatching(image, exactly(PICKS.bigFile)),
    contentBytes: (image) => membersBytes(image, exactly(PICKS.bigFile)),
  },
];
