/**
 * `ImageIndex`: the files of an image as its layers show them together (or one layer alone), with the
 * lookups the commands need: `findFile` for one path, `filterFiles` for patterns.
 */

import { StargzError } from '../errors.js';
import { type MergedView, mergeLayers } from './merge.js';
import { cleanPath, compareUtf8 } from './paths.js';
import { type CompiledPattern, compilePattern } from './patterns.js';
import type { IndexEntry, IndexLayer, IndexLayerInput } from './types.js';

/** The smallest prefix of a layer digest's hex part accepted as a layer name. */
const MIN_DIGEST_PREFIX = 12;
/** Symlinks followed while resolving one path before giving up (Linux's limit). */
const MAX_SYMLINK_HOPS = 40;

export interface FilterOptions {
  /** include everything below a matched directory (default true) */
  expandDirectories?: boolean;
}

/** A sorted view plus what makes range lookups cheap. */
class SortedView {
  readonly entries: readonly IndexEntry[];
  constructor(readonly byPath: MergedView) {
    this.entries = [...byPath.values()];
  }

  /** The entries below `dir` (not itself), in order: one contiguous run of the sorted list. */
  descendants(dir: string): IndexEntry[] {
    if (dir === '') return [...this.entries];
    const prefix = dir + '/';
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUtf8(this.entries[mid]!.path, prefix) < 0) lo = mid + 1;
      else hi = mid;
    }
    const out: IndexEntry[] = [];
    for (let i = lo; i < this.entries.length && this.entries[i]!.path.startsWith(prefix); i++) {
      out.push(this.entries[i]!);
    }
    return out;
  }
}

export class ImageIndex {
  /** the image's layers, bottom (index 0) to top */
  readonly layers: readonly IndexLayer[];
  private readonly inputs: readonly IndexLayerInput[];
  private readonly merged: SortedView;
  private readonly single = new Map<number, SortedView>();

  /**
   * Builds the merged view of `layers` (bottom to top). Throws `E_TOC_INVALID` for a TOC the view cannot be
   * built from (a hardlink to nothing).
   */
  constructor(layers: readonly IndexLayerInput[]) {
    this.inputs = layers;
    this.layers = layers.map((layer, index) => {
      const known: IndexLayer = { digest: layer.digest, index };
      if (layer.descriptor) known.descriptor = layer.descriptor;
      return known;
    });
    this.merged = new SortedView(mergeLayers(layers));
  }

  /** Every visible entry, sorted by the UTF-8 byte order of the paths (of one layer alone with `layerDigest`). */
  entries(layerDigest?: string): readonly IndexEntry[] {
    return this.view(layerDigest).entries;
  }

  /** The entry at `path` (leading `/` optional), or undefined. */
  stat(path: string, layerDigest?: string): IndexEntry | undefined {
    return this.view(layerDigest).byPath.get(cleanPath(path));
  }

  /**
   * Where `path` leads when the symlinks among its parent directories are followed inside the image, as
   * `docker cp` does (`bin/ls` with `bin -> usr/bin` is `usr/bin/ls`). With `followFinal` a symlink in the last
   * component is followed too (what `cat` wants). Targets never leave the image root (`..` stops at it);
   * a chain longer than 40 links, or a missing component, gives undefined.
   */
  resolvePath(
    path: string,
    layerDigest?: string,
    options: { followFinal?: boolean } = {},
  ): string | undefined {
    const byPath = this.view(layerDigest).byPath;
    const pending = cleanPath(path)
      .split('/')
      .filter((part) => part !== '');
    const done: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') {
        done.pop();
        continue;
      }
      if (part === '.') continue;
      const candidate = [...done, part].join('/');
      const entry = byPath.get(candidate);
      if (entry === undefined) return undefined;
      const isLast = pending.length === 0;
      if (entry.type === 'symlink' && (!isLast || options.followFinal)) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        const target = entry.linkName ?? '';
        if (target.startsWith('/')) done.length = 0;
        pending.unshift(...target.split('/').filter((piece) => piece !== ''));
        continue;
      }
      if (!isLast && entry.type !== 'dir') return undefined;
      done.push(part);
    }
    return done.join('/');
  }

  /**
   * The entry at `path`; when the path itself is not in the view, the one it leads to through symlinked parent
   * directories (see `resolvePath`). `E_NOT_FOUND` when neither exists.
   */
  findFile(path: string, layerDigest?: string, options: { followFinal?: boolean } = {}): IndexEntry {
    let entry = options.followFinal ? undefined : this.stat(path, layerDigest);
    if (entry === undefined) {
      const resolved = this.resolvePath(path, layerDigest, options);
      if (resolved !== undefined && resolved !== '') entry = this.stat(resolved, layerDigest);
    }
    if (entry === undefined) {
      const where = layerDigest === undefined ? 'the image' : `layer ${this.layer(layerDigest).digest}`;
      throw new StargzError('E_NOT_FOUND', `${JSON.stringify(path)} not found in ${where}`, {
        details: { path, ...(layerDigest === undefined ? {} : { layer: layerDigest }) },
      });
    }
    return entry;
  }

  /** The direct children of the directory at `path` (`''` or `/` for the root), sorted; `E_NOT_FOUND` if not a directory. */
  children(path: string, layerDigest?: string): IndexEntry[] {
    const dir = cleanPath(path);
    const view = this.view(layerDigest);
    if (dir !== '') {
      const entry = view.byPath.get(dir);
      if (entry?.type !== 'dir') {
        throw new StargzError('E_NOT_FOUND', `${JSON.stringify(path)} is not a directory of the image`, {
          details: { path },
        });
      }
    }
    const depth = dir === '' ? 0 : dir.split('/').length;
    return view.descendants(dir).filter((entry) => entry.path.split('/').length === depth + 1);
  }

  /**
   * The entries the patterns select (see `compilePattern`), without duplicates, sorted by path. A matched
   * directory brings everything below it unless `expandDirectories` is false. Every pattern must match
   * something: otherwise `E_NOT_FOUND` naming it.
   */
  filterFiles(
    patterns: string | readonly string[],
    layerDigest?: string,
    options: FilterOptions = {},
  ): IndexEntry[] {
    const view = this.view(layerDigest);
    const expand = options.expandDirectories ?? true;
    const selected = new Set<IndexEntry>();
    const expanded = new Set<string>();
    for (const source of typeof patterns === 'string' ? [patterns] : patterns) {
      const pattern = compilePattern(source);
      const matched = matchPattern(view, pattern, (path, followFinal) =>
        this.resolvePath(path, layerDigest, { followFinal }),
      );
      if (matched.length === 0) throw this.noMatch(pattern, layerDigest);
      for (const entry of matched) {
        selected.add(entry);
        if (!expand || entry.type !== 'dir' || isUnderAny(entry.path, expanded)) continue;
        expanded.add(entry.path);
        for (const below of view.descendants(entry.path)) selected.add(below);
      }
    }
    return [...selected].sort((a, b) => compareUtf8(a.path, b.path));
  }

  /**
   * The layer named by a digest: `sha256:<hex>`, the hex alone, or a unique prefix of 12+ hex digits (with or
   * without `sha256:`). `E_NOT_FOUND` listing the layers when none or several match.
   */
  layer(layerDigest: string): IndexLayer {
    const wanted = layerDigest.trim().toLowerCase();
    const colon = wanted.indexOf(':');
    const algorithm = colon < 0 ? undefined : wanted.slice(0, colon);
    const hex = wanted.slice(colon + 1);
    const found = this.layers.filter((layer) => {
      if (layer.digest === wanted) return true;
      const layerColon = layer.digest.indexOf(':');
      if (algorithm !== undefined && layer.digest.slice(0, layerColon) !== algorithm) return false;
      return hex.length >= MIN_DIGEST_PREFIX && layer.digest.slice(layerColon + 1).startsWith(hex);
    });
    if (found.length !== 1) {
      const list = this.layers.map((layer) => `  ${layer.index + 1}. ${layer.digest}`).join('\n');
      const why = found.length === 0 ? 'is not a layer of this image' : 'matches several layers';
      throw new StargzError('E_NOT_FOUND', `layer ${layerDigest} ${why}; the layers are:\n${list}`, {
        details: { layer: layerDigest, layers: this.layers.map((layer) => layer.digest) },
      });
    }
    return found[0]!;
  }

  private view(layerDigest?: string): SortedView {
    if (layerDigest === undefined) return this.merged;
    const { index } = this.layer(layerDigest);
    let view = this.single.get(index);
    if (view === undefined) {
      view = new SortedView(mergeLayers([this.inputs[index]!], index));
      this.single.set(index, view);
    }
    return view;
  }

  private noMatch(pattern: CompiledPattern, layerDigest?: string): StargzError {
    const where = layerDigest === undefined ? 'the image' : `layer ${this.layer(layerDigest).digest}`;
    const what = pattern.directoryOnly ? 'no directory' : 'nothing';
    return new StargzError('E_NOT_FOUND', `${what} in ${where} matches ${JSON.stringify(pattern.source)}`, {
      details: { pattern: pattern.source, ...(layerDigest === undefined ? {} : { layer: layerDigest }) },
    });
  }
}

/** The entries a pattern matches by itself (before directory expansion). */
function matchPattern(
  view: SortedView,
  pattern: CompiledPattern,
  resolve: (path: string, followFinal: boolean) => string | undefined,
): IndexEntry[] {
  const accept = (entry: IndexEntry | undefined): entry is IndexEntry =>
    entry !== undefined && (!pattern.directoryOnly || entry.type === 'dir');
  if (pattern.matchAll) return [...view.entries];
  if (pattern.isLiteral) {
    let entry = view.byPath.get(pattern.path);
    if (!accept(entry)) {
      // a path through a symlinked directory (bin/ls with bin -> usr/bin) selects what it leads to; `lib/`
      // with lib -> usr/lib selects the directory, as `ls lib/` would
      const resolved = resolve(pattern.path, pattern.directoryOnly);
      if (resolved !== undefined && resolved !== '') entry = view.byPath.get(resolved);
    }
    return accept(entry) ? [entry] : [];
  }
  return view.entries.filter((entry) => accept(entry) && pattern.matches(entry.path));
}

/** Whether `path` or one of its ancestors is in `dirs`. */
function isUnderAny(path: string, dirs: ReadonlySet<string>): boolean {
  if (dirs.size === 0) return false;
  for (let p = path; ; p = p.slice(0, p.lastIndexOf('/'))) {
    if (dirs.has(p)) return true;
    if (!p.includes('/')) return false;
  }
}
