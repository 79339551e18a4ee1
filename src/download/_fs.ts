/** File system helpers of the safe writer. */

import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { lstat } from 'node:fs/promises';
import { StargzError } from '../errors.js';

export const TEMP_PREFIX = '.starget-tmp-';

/** Random per process, so that two processes writing into one directory do not collide. */
const tempPrefix = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-`;
let tempCounter = 0;

/** A fresh temporary name (files are created with O_EXCL, so a name someone else took is an error). */
export function tempName(): string {
  tempCounter++;
  return tempPrefix + tempCounter.toString(36);
}

export function depth(abs: string): number {
  return abs.split('/').length;
}

export async function lstatOrNull(abs: string) {
  try {
    return await lstat(abs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Reads bytes [start, end) of an open file (default: all of it) in pieces that share one buffer. */
export async function* readAll(handle: FileHandle, start = 0, end = Infinity): AsyncIterable<Uint8Array> {
  const buffer = Buffer.alloc(256 * 1024);
  let position = start;
  while (position < end) {
    const want = Math.min(buffer.byteLength, end - position);
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
    position += bytesRead;
  }
}

export function ioError(message: string, error: unknown, path: string): StargzError {
  if (StargzError.is(error)) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  return new StargzError('E_IO', `${message}${code ? ` (${code})` : ''}`, {
    cause: error,
    details: { path },
  });
}
