import { posix } from 'node:path';

/**
 * Normalises a TOC or tar name the way the reference reader does: `clean("/" + name)` without the
 * leading `/` (`./a/` → `a`, `../x` → `x`, `a/../../b` → `b`, `/abs` → `abs`). The root becomes ''.
 */
export function normalizeTocName(name: string): string {
  const cleaned = posix.normalize(`/${name}`);
  let start = 0;
  let end = cleaned.length;
  while (start < end && cleaned.charCodeAt(start) === 0x2f) start++;
  while (end > start && cleaned.charCodeAt(end - 1) === 0x2f) end--;
  return cleaned.slice(start, end);
}
