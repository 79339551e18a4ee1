/** File primitives of the cache: atomic publish (temp file, then rename) and size-bounded reads. */

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temp files carry this marker in their name; listings skip them and prune removes stale ones. */
export const TEMP_MARKER = '.tmp-';

/** A unique temp path next to `finalPath` (same directory, so the rename stays on one file system). */
export function tempPathFor(finalPath: string): string {
  return join(
    dirname(finalPath),
    `${basename(finalPath)}${TEMP_MARKER}${process.pid}-${randomBytes(6).toString('hex')}`,
  );
}

/**
 * Writes `bytes` to a temp file and renames it onto `finalPath`. Readers see either the old file, no file,
 * or the whole new file; never a partial one. Concurrent writers of the same key each publish a complete
 * file and the last rename wins. No fsync: after a crash an entry may be empty or stale, and every load
 * verifies its digest, so such an entry is discarded rather than trusted.
 */
export async function writeFileAtomic(finalPath: string, bytes: Uint8Array, mode = 0o600): Promise<void> {
  const temp = tempPathFor(finalPath);
  let published = false;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(bytes);
    } finally {
      await handle.close();
    }
    await rename(temp, finalPath);
    published = true;
  } finally {
    if (!published) await unlink(temp).catch(() => {});
  }
}

export type BoundedRead =
  | { kind: 'ok'; bytes: Buffer }
  | { kind: 'missing' }
  | { kind: 'too-big'; size: number };

/**
 * Reads a whole file unless it is bigger than `maxBytes`, in which case nothing is read. The size check
 * and the read use one open handle, so a rename over the path in between cannot change what is read.
 */
export async function readFileBounded(path: string, maxBytes: number): Promise<BoundedRead> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) return { kind: 'too-big', size };
    const bytes = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return { kind: 'ok', bytes: filled === size ? bytes : bytes.subarray(0, filled) };
  } finally {
    await handle.close();
  }
}
