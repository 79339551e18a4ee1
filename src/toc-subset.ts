/**
 * The part of the layers' TOCs that decides what the merged view shows at a few named paths, so a get or
 * cat of one path builds a view of a handful of entries instead of merging every entry of every layer.
 *
 * What can change the view at a path P: entries at P's ancestors (a directory replaced by a file, a
 * symlinked directory), entries at P and below it, whiteout and opaque markers in P's ancestors and below
 * P, the targets of hardlinks among those, and the paths that symlinks among P's ancestors (or P itself)
 * lead to. The subset is closed over those rules, so merging it gives exactly the full view's answer for P.
 */

import { cleanPath } from './image/paths.js';
import type { IndexLayerInput } from './image/types.js';

const WHITEOUT_PREFIX = '.wh.';
/** Past this many wanted paths (long symlink or hardlink chains) the caller should merge everything. */
const MAX_WANTED_PATHS = 64;

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** `path` and every ancestor of it, the root (`''`) included. */
function addPrefixes(path: string, into: Set<string>): void {
  into.add('');
  for (let p = path; p !== ''; p = parentOf(p)) into.add(p);
}

/** Where a symlink at `link` (target `target`) sends `wanted`, which is `link` or below it. */
function throughSymlink(link: string, target: string, wanted: string): string {
  const rest = wanted.length > link.length ? wanted.slice(link.length + 1) : '';
  const base = target.startsWith('/') ? '' : parentOf(link);
  return cleanPath(`${base}/${target}/${rest}`);
}

/**
 * The entries of `layers` (bottom to top) that decide the view at `paths` (clean paths, no leading `/`)
 * and everything below them, as layers of the same digests. Undefined when the closure grows past a bound
 * (or reaches the root): merge all layers then.
 */
export function tocSubset(
  layers: readonly IndexLayerInput[],
  paths: readonly string[],
): IndexLayerInput[] | undefined {
  const wanted = new Set(paths.map(cleanPath));
  for (;;) {
    if (wanted.has('') || wanted.size > MAX_WANTED_PATHS) return undefined;
    const prefixes = new Set<string>();
    for (const path of wanted) addPrefixes(path, prefixes);
    const below = [...wanted].map((path) => `${path}/`);
    const more = new Set<string>();
    const subset = layers.map((layer) => {
      const entries = layer.toc.entries.filter((entry) => {
        const name = cleanPath(entry.name);
        if (name === '') return false;
        const keep =
          prefixes.has(name) ||
          below.some((dir) => name.startsWith(dir)) ||
          (name.slice(name.lastIndexOf('/') + 1).startsWith(WHITEOUT_PREFIX) && prefixes.has(parentOf(name)));
        if (!keep) return false;
        if (entry.type === 'hardlink') {
          const target = cleanPath(entry.linkName);
          if (!wanted.has(target)) more.add(target);
        } else if (entry.type === 'symlink' && prefixes.has(name)) {
          // entries below the link's path (in any layer) can turn it into a directory: keep them too
          if (!wanted.has(name)) more.add(name);
          for (const path of wanted) {
            if (path !== name && !path.startsWith(`${name}/`)) continue;
            const next = throughSymlink(name, entry.linkName, path);
            if (!wanted.has(next)) more.add(next);
          }
        }
        return true;
      });
      return { ...layer, toc: { entries } };
    });
    if (more.size === 0) return subset;
    for (const path of more) wanted.add(path);
  }
}
