/** Maps the image index's entries to what `ls` prints. Pure. */

import type { IndexEntry } from '../image/types.js';
import type { ListedEntry } from './format.js';

/** An index entry as `ls` shows it: a hardlink with a visible target is a `hardlink` to that path. */
export function toListedEntry(entry: IndexEntry): ListedEntry {
  const listed: ListedEntry = {
    path: entry.path,
    type: entry.hardlinkOf ? 'hardlink' : entry.type,
    size: entry.size,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    layer: entry.layerDigest,
  };
  if (entry.modtime) listed.mtime = entry.modtime;
  if (entry.hardlinkOf) listed.linkName = entry.hardlinkOf;
  else if (entry.type === 'symlink') listed.linkName = entry.linkName ?? '';
  return listed;
}
