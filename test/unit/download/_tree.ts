/**
 * A byte-exact snapshot of a directory tree (types, modes, mtimes, contents, link targets, which names
 * share an inode), for comparing the result of an interrupted-then-resumed run with an uninterrupted one,
 * and for checking that nothing outside an output directory changed.
 */

import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeNode {
  type: 'dir' | 'file' | 'symlink' | 'other';
  mode: number;
  /** mtime in ms (not for symlinks, whose mtime is not kept by every file system) */
  mtimeMs?: number;
  size?: number;
  sha256?: string;
  link?: string;
  /** for a file with several names: the first of them (sorted) */
  sameAs?: string;
}

/** Walks `dir` (not following symlinks) into path → node; `skip` names are left out at any depth. */
export async function snapshotTree(
  dir: string,
  skip: readonly string[] = [],
): Promise<Record<string, TreeNode>> {
  const nodes: Record<string, TreeNode> = {};
  const inodes = new Map<string, string>();
  async function walk(abs: string, rel: string): Promise<void> {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      if (skip.includes(name)) continue;
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(abs, name);
      const stats = await lstat(full);
      const mode = stats.mode & 0o7777;
      if (stats.isDirectory()) {
        await walk(full, path);
        nodes[path] = { type: 'dir', mode, mtimeMs: stats.mtimeMs };
      } else if (stats.isSymbolicLink()) {
        nodes[path] = { type: 'symlink', mode, link: await readlink(full) };
      } else if (stats.isFile()) {
        const node: TreeNode = {
          type: 'file',
          mode,
          mtimeMs: stats.mtimeMs,
          size: stats.size,
          sha256: createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        };
        if (stats.nlink > 1) {
          const key = `${stats.dev}:${stats.ino}`;
          const first = inodes.get(key);
          if (first === undefined) inodes.set(key, path);
          else node.sameAs = first;
        }
        nodes[path] = node;
      } else {
        nodes[path] = { type: 'other', mode };
      }
    }
  }
  await walk(dir, '');
  return nodes;
}
