/**
 * `get -L`: symlinks among the selected entries are replaced by what they lead to inside the image, under the
 * link's own name (as `cp -L` / `docker cp -L`). A link to a file becomes that file; a link to a directory
 * becomes a directory holding the target's tree (links further down are kept as links, so cycles end).
 * A link that leads nowhere inside the image stays a link.
 */

import type { ImageIndex } from './image-index.js';
import { compareUtf8 } from './paths.js';
import type { IndexEntry } from './types.js';

export function dereferenceEntries(
  index: ImageIndex,
  entries: readonly IndexEntry[],
  layerDigest?: string,
): IndexEntry[] {
  const out = new Map<string, IndexEntry>();
  for (const entry of entries) {
    if (entry.type !== 'symlink') {
      if (!out.has(entry.path)) out.set(entry.path, entry);
      continue;
    }
    const resolved = index.resolvePath(entry.path, layerDigest, { followFinal: true });
    const target = resolved === undefined || resolved === '' ? undefined : index.stat(resolved, layerDigest);
    if (target === undefined || target.type === 'symlink') {
      out.set(entry.path, entry);
      continue;
    }
    out.set(entry.path, rename(target, entry.path));
    if (target.type !== 'dir') continue;
    for (const below of index.filterFiles(`${target.path}/`, layerDigest)) {
      if (below.path === target.path) continue;
      const path = entry.path + below.path.slice(target.path.length);
      if (!out.has(path)) out.set(path, rename(below, path));
    }
  }
  return [...out.values()].sort((a, b) => compareUtf8(a.path, b.path));
}

/** The same content and metadata at another path; hardlink pairing does not survive the move. */
function rename(entry: IndexEntry, path: string): IndexEntry {
  const { hardlinkOf: _dropped, ...rest } = entry;
  return { ...rest, path, implied: false };
}
