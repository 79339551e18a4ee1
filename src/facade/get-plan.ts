/** Planning a `get`: where the selected entries go, and how much there is to fetch. */

import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { compilePattern } from '../image/patterns.js';
import type { IndexEntry } from '../image/types.js';

/** Where a get writes: the output directory, and the output path of each entry when not its own. */
export interface OutputLayout {
  outDir: string;
  outputPathOf?: (entry: IndexEntry) => string;
}

/**
 * The `target` layout (like cp): one pattern naming one non-directory entry is written as `destination`
 * itself, or into it when it is a directory or ends with `/`. Anything else keeps the image paths under
 * `destination`.
 */
export async function targetLayout(
  patterns: readonly string[],
  entries: readonly IndexEntry[],
  destination: string,
): Promise<OutputLayout> {
  if (patterns.length !== 1) return { outDir: destination };
  const pattern = compilePattern(patterns[0]!);
  const single = pattern.isLiteral && !pattern.matchAll && !pattern.directoryOnly ? entries[0] : undefined;
  if (!single || entries.length !== 1 || single.type === 'dir') return { outDir: destination };
  const intoDir = destination.endsWith('/') || (await isDirectory(destination));
  const name = intoDir ? basename(single.path) : basename(destination);
  return { outDir: intoDir ? destination : dirname(destination), outputPathOf: () => name };
}

/**
 * The files (every entry but directories) and the content bytes of `entries`: each regular file's content
 * counted once, however many paths share it (hardlinks, dereferenced symlinks).
 */
export function planTotals(entries: readonly IndexEntry[]): { files: number; bytes: number } {
  const content = new Set<string>();
  let bytes = 0;
  let files = 0;
  for (const entry of entries) {
    if (entry.type !== 'dir') files++;
    if (entry.type === 'reg' && !entry.hardlinkOf) {
      const key = `${entry.layerDigest}\0${entry.sourcePath ?? entry.path}`;
      if (!content.has(key)) {
        content.add(key);
        bytes += entry.size;
      }
    }
  }
  return { files, bytes };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
