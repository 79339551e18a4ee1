/**
 * The cache directory's layout (`<dir>/v1/<kind>/<algorithm>/<key>`) and its listing, for `info` and
 * `prune`.
 */

import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import { parseDigest } from './digest.js';
import { TEMP_MARKER } from './files.js';

/** Layout version: a new on-disk format gets a new directory, so old and new starget never mix entries. */
export const LAYOUT = 'v1';
export const TOC_DIR = 'toc';
export const MANIFEST_DIR = 'manifest';
export const PLATFORM_DIR = 'platform';
/** Temp files older than this belong to a process that died mid-write. */
export const STALE_TEMP_MS = 60 * 60 * 1000;

export type Kind = typeof TOC_DIR | typeof MANIFEST_DIR | typeof PLATFORM_DIR;
export const KINDS = [TOC_DIR, MANIFEST_DIR, PLATFORM_DIR] as const;

/** A file in the cache: an entry, or the temp file of a write in progress (or of a process that died). */
export interface CacheFile {
  path: string;
  size: number;
  mtimeMs: number;
  temp: boolean;
}

/** Entries and bytes of one kind. */
export interface CacheKindInfo {
  entries: number;
  bytes: number;
}

/** The path of the entry of `kind` keyed by `digest`; undefined for a malformed digest. */
export function entryPath(dir: string, kind: Kind, digest: string): string | undefined {
  const parsed = parseDigest(digest);
  if (parsed === undefined) return undefined;
  return join(dir, LAYOUT, kind, parsed.algorithm, parsed.hex);
}

/** The path of the platform choice of index `indexDigest` for `platform`; undefined when either is malformed. */
export function platformChoicePath(dir: string, indexDigest: string, platform: string): string | undefined {
  const parsed = parseDigest(indexDigest);
  if (parsed === undefined || !/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*){1,2}$/i.test(platform))
    return undefined;
  const key = createHash('sha256').update(`${indexDigest}\n${platform}`).digest('hex');
  return join(dir, LAYOUT, PLATFORM_DIR, parsed.algorithm, key);
}

/** Every file of `kind` in the cache at `dir`, temp files included (none when the directory is missing). */
export async function listCacheFiles(dir: string, kind: Kind): Promise<CacheFile[]> {
  const root = join(dir, LAYOUT, kind);
  const files: CacheFile[] = [];
  for (const algorithm of await readDirIfAny(root)) {
    const sub = join(root, algorithm);
    for (const name of await readDirIfAny(sub)) {
      const path = join(sub, name);
      try {
        const st = await stat(path);
        if (!st.isFile()) continue;
        files.push({ path, size: st.size, mtimeMs: st.mtimeMs, temp: name.includes(TEMP_MARKER) });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw cacheIoError('could not read the cache', path, error);
      }
    }
  }
  return files;
}

export function summarise(files: CacheFile[]): CacheKindInfo {
  return { entries: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0) };
}

async function readDirIfAny(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw cacheIoError('could not read the cache', dir, error);
  }
}

export function cacheIoError(what: string, path: string, cause: unknown): StargzError {
  return new StargzError('E_IO', `${what} at ${path}: check its permissions or remove it`, {
    cause,
    details: { path },
  });
}
