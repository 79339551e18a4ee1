/**
 * Creating a complete file in one go under a fresh temporary name: create (O_EXCL, never through a
 * symlink), write, metadata through the descriptor, close. The name is removed again on failure.
 */

import { closeSync, constants as fsConstants, fstatSync, openSync, writeSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import type { EntryMetadata, MetadataWriter } from './_metadata.js';

const WRITE_ONCE_FLAGS =
  fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

export interface FileIdentity {
  dev: number;
  ino: number;
}

/**
 * Creates `at` holding `data` with `meta` applied; `check` runs right after the file is created (it may
 * refuse the directory). Returns the file's identity.
 */
export async function createWholeFile(
  at: string,
  data: Uint8Array,
  meta: EntryMetadata,
  path: string,
  metadata: MetadataWriter,
  check: () => Promise<void>,
): Promise<FileIdentity> {
  const handle = await open(at, WRITE_ONCE_FLAGS, 0o600);
  try {
    await check();
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await handle.write(data, done, data.byteLength - done, done);
      done += bytesWritten;
    }
    await metadata.applyToHandle(handle, path, meta);
    const { dev, ino } = await handle.stat();
    await handle.close();
    return { dev, ino };
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(at).catch(() => {});
    throw error;
  }
}

/**
 * `createWholeFile` with synchronous system calls (it blocks the event loop while they run) and no check:
 * for names resolved through a pinned directory handle only.
 */
export async function createWholeFileSync(
  at: string,
  data: Uint8Array,
  meta: EntryMetadata,
  path: string,
  metadata: MetadataWriter,
): Promise<FileIdentity> {
  const fd = openSync(at, WRITE_ONCE_FLAGS, 0o600);
  // closed at most once: another thread may reuse the number as soon as it is closed
  let closed = false;
  try {
    let done = 0;
    while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done, done);
    metadata.applyToFdSync(fd, path, meta);
    const { dev, ino } = fstatSync(fd);
    closed = true;
    closeSync(fd);
    return { dev, ino };
  } catch (error) {
    if (!closed) closeSync(fd);
    await unlink(at).catch(() => {});
    throw error;
  }
}
