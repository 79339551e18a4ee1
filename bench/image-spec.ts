/**
 * What the benchmark images hold, as plain data: file names, sizes, modes and how their bytes are made.
 * Deterministic: a spec is a function of its size preset only. The names the scenarios use are exported.
 */

import { prng } from './content.js';

export type ContentKind = 'text' | 'binary' | 'noise';

export interface SpecFile {
  name: string;
  size: number;
  mode: number;
  kind: ContentKind;
}

export interface LayerSpec {
  name: string;
  files: SpecFile[];
}

export interface ImageSpec {
  repo: string;
  tag: string;
  layers: LayerSpec[];
}

export type Preset = 'full' | 'quick';

/** Paths the scenarios pick. */
export const PICKS = {
  smallFile: 'etc/os-release',
  directory: 'usr/lib/python3.12',
  bigFile: 'opt/model/weights.bin',
} as const;

const MiB = 1024 * 1024;

interface Sizes {
  docs: number;
  locale: number;
  python: number;
  libs: number;
  nodeModules: number;
  binaries: [count: number, min: number, max: number];
  libBinaries: [count: number, min: number, max: number];
  assets: [count: number, min: number, max: number];
  bigFile: number;
  manySmall: number;
}

const PRESETS: Record<Preset, Sizes> = {
  full: {
    docs: 2600,
    locale: 1500,
    python: 2400,
    libs: 700,
    nodeModules: 3000,
    binaries: [30, 512 * 1024, 6 * MiB],
    libBinaries: [45, 256 * 1024, 8 * MiB],
    assets: [30, 1 * MiB, 6 * MiB],
    bigFile: 60 * MiB,
    manySmall: 60_000,
  },
  quick: {
    docs: 300,
    locale: 150,
    python: 600,
    libs: 80,
    nodeModules: 300,
    binaries: [4, 256 * 1024, 2 * MiB],
    libBinaries: [4, 256 * 1024, 2 * MiB],
    assets: [3, 512 * 1024, 2 * MiB],
    bigFile: 9 * MiB,
    manySmall: 6000,
  },
};

/** Mostly small, a long tail: log-uniform between 100 B and 64 KiB (median about 2.5 KiB). */
function smallSize(random: () => number): number {
  return Math.round(Math.exp(Math.log(100) + random() * (Math.log(64 * 1024) - Math.log(100))));
}

function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

function texts(random: () => number, count: number, name: (i: number) => string, mode = 0o644): SpecFile[] {
  return Array.from({ length: count }, (_, i) => ({
    name: name(i),
    size: smallSize(random),
    mode,
    kind: 'text',
  }));
}

function binaries(random: () => number, [count, min, max]: Sizes['binaries'], name: (i: number) => string) {
  return Array.from(
    { length: count },
    (_, i): SpecFile => ({ name: name(i), size: between(random, min, max), mode: 0o755, kind: 'binary' }),
  );
}

/** Image (a): three layers shaped like an OS base, a language runtime and an application. */
export function realisticImage(preset: Preset): ImageSpec {
  const s = PRESETS[preset];
  const random = prng(`realistic ${preset}`);
  const os: SpecFile[] = [
    { name: PICKS.smallFile, size: 386, mode: 0o644, kind: 'text' },
    ...texts(random, 120, (i) => `etc/conf.d/service-${i}.conf`),
    ...texts(
      random,
      s.docs,
      (i) => `usr/share/doc/pkg-${Math.floor(i / 4)}/${['copyright', 'changelog', 'README', 'NEWS'][i % 4]}`,
    ),
    ...texts(
      random,
      s.locale,
      (i) => `usr/share/locale/l${i % 60}/LC_MESSAGES/domain-${Math.floor(i / 60)}.mo`,
    ),
    ...binaries(random, s.binaries, (i) => `usr/bin/tool-${i}`),
  ];
  const runtime: SpecFile[] = [
    ...texts(random, s.python, (i) => `${PICKS.directory}/pkg${i % 40}/module_${Math.floor(i / 40)}.py`),
    ...texts(random, s.libs, (i) => `usr/include/lib${i % 30}/header-${Math.floor(i / 30)}.h`),
    ...binaries(random, s.libBinaries, (i) => `usr/lib/x86_64-linux-gnu/libthing${i}.so.1`),
  ];
  const app: SpecFile[] = [
    ...texts(
      random,
      s.nodeModules,
      (i) => `app/node_modules/dep-${i % 150}/lib/file-${Math.floor(i / 150)}.js`,
    ),
    ...binaries(random, s.assets, (i) => `app/assets/blob-${i}.bin`),
    { name: PICKS.bigFile, size: s.bigFile, mode: 0o644, kind: 'noise' },
  ];
  return {
    repo: 'bench/realistic',
    tag: preset,
    layers: [
      { name: 'os', files: os },
      { name: 'runtime', files: runtime },
      { name: 'app', files: app },
    ],
  };
}

/** Image (b): one layer of many small files (shaped like a font or icon theme, or a data set). */
export function manySmallImage(preset: Preset): ImageSpec {
  const s = PRESETS[preset];
  const random = prng(`many ${preset}`);
  const files = Array.from(
    { length: s.manySmall },
    (_, i): SpecFile => ({
      name: `data/d${Math.floor(i / 100)}/item-${i % 100}.txt`,
      size: Math.round(Math.exp(Math.log(60) + random() * (Math.log(3000) - Math.log(60)))),
      mode: 0o644,
      kind: 'text',
    }),
  );
  return { repo: 'bench/many-small', tag: preset, layers: [{ name: 'many', files }] };
}
