/** Hand-built TOCs for the image tests: a line per entry, fields defaulted as the reader would. */

import type { Toc, TocChunk, TocEntry, TocEntryType } from '../../../src/estargz/types.js';

export interface EntrySpec {
  type?: TocEntryType;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  modtime?: string;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, string>;
  digest?: string;
  chunks?: TocChunk[];
}

let nextOffset = 1000;

/** One TOC entry named `name` (kept raw; normalised the way the reader does for `name`). */
export function entry(name: string, spec: EntrySpec = {}): TocEntry {
  const type = spec.type ?? (name.endsWith('/') ? 'dir' : 'reg');
  const size = type === 'reg' ? (spec.size ?? 10) : 0;
  const offset = nextOffset;
  nextOffset += 100;
  const chunks =
    spec.chunks ??
    (type === 'reg' && size > 0
      ? [{ offset, innerOffset: 0, compressedEnd: offset + 100, chunkOffset: 0, chunkSize: size }]
      : []);
  const e: TocEntry = {
    name: normalise(name),
    rawName: name,
    type,
    size,
    mode: spec.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
    uid: spec.uid ?? 0,
    gid: spec.gid ?? 0,
    modtime: spec.modtime ?? '2020-01-01T00:00:00Z',
    linkName: spec.linkName ?? '',
    devMajor: spec.devMajor ?? 0,
    devMinor: spec.devMinor ?? 0,
    xattrs: Object.fromEntries(
      Object.entries(spec.xattrs ?? {}).map(([k, v]) => [k, new TextEncoder().encode(v)]),
    ),
    chunks,
  };
  const digest = 'digest' in spec ? spec.digest : `sha256:${name.replace(/[^a-z0-9]/gi, '').padEnd(64, '0')}`;
  if (type === 'reg' && digest !== undefined) e.digest = digest;
  return e;
}

/** Shorthands. */
export const dir = (name: string, spec: EntrySpec = {}) =>
  entry(name.endsWith('/') ? name : name + '/', spec);
export const file = (name: string, spec: EntrySpec = {}) => entry(name, { ...spec, type: 'reg' });
export const symlink = (name: string, target: string) => entry(name, { type: 'symlink', linkName: target });
export const hardlink = (name: string, target: string) =>
  entry(name, { type: 'hardlink', linkName: normalise(target) });
export const whiteout = (name: string) => entry(name, { type: 'reg', size: 0 });

export function toc(...entries: TocEntry[]): Toc {
  return { version: 1, entries };
}

/** A layer input with a recognisable digest. */
export function layer(n: number, ...entries: TocEntry[]): { digest: string; toc: Toc } {
  return { digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, toc: toc(...entries) };
}

function normalise(name: string): string {
  const out: string[] = [];
  for (const s of name.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out.join('/');
}
