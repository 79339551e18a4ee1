/**
 * Restoring the metadata of the directories the safe writer made, once every file is in place: deepest
 * first (creating children changes a directory's mtime, and a read-only mode would block its children).
 */

import { type FileHandle, open } from 'node:fs/promises';
import { StargzError } from '../errors.js';
import type { Logger } from '../log.js';
import { DIR_FLAGS, type Dir, type DirTable } from './_dir-table.js';
import { depth, ioError } from './_fs.js';
import type { EntryMetadata, MetadataWriter } from './_metadata.js';

/** Directories whose metadata is restored at the same time (siblings: no order between them). */
const RESTORE_CONCURRENCY = 16;

export interface DirectoryRestoreContext {
  dirs: DirTable;
  metadata: MetadataWriter;
  logger: Logger;
}

/**
 * Applies `meta` to each directory of `directories` (absolute path → metadata), deepest first. A
 * directory gone or replaced since is skipped; failing to set metadata rejects with E_IO.
 */
export async function restoreDirectories(
  directories: Iterable<[string, EntryMetadata]>,
  context: DirectoryRestoreContext,
): Promise<void> {
  const byDepth = new Map<number, [string, EntryMetadata][]>();
  for (const item of directories) {
    const level = depth(item[0]);
    byDepth.set(level, [...(byDepth.get(level) ?? []), item]);
  }
  for (const level of [...byDepth.keys()].sort((a, b) => b - a)) {
    const items = byDepth.get(level)!;
    for (let i = 0; i < items.length; i += RESTORE_CONCURRENCY) {
      await Promise.all(
        items.slice(i, i + RESTORE_CONCURRENCY).map(([abs, meta]) => restoreDirectory(abs, meta, context)),
      );
    }
  }
}

async function restoreDirectory(
  abs: string,
  meta: EntryMetadata,
  { dirs, metadata, logger }: DirectoryRestoreContext,
): Promise<void> {
  const rel = abs.slice(dirs.root.length + 1);
  let dir: Dir | undefined;
  let handle: FileHandle | undefined;
  try {
    if (dirs.pinned) {
      dir = await dirs.acquire(rel.split('/'), rel, { create: false });
      handle = dir.handle;
    } else {
      handle = await open(abs, DIR_FLAGS);
    }
  } catch (error) {
    // replaced by something else later in the run, or gone: nothing of ours to restore
    logger.debug('directory metadata not restored', { path: rel, error: String(error) });
    if (dir) dirs.release(dir);
    return;
  }
  try {
    if (!handle) throw new StargzError('E_INTERNAL', `no handle for directory ${rel}`);
    await metadata.applyToHandle(handle, rel, meta);
  } catch (error) {
    throw ioError(`cannot set the metadata of directory ${rel}`, error, rel);
  } finally {
    if (dir) dirs.release(dir);
    else await handle?.close();
  }
}
