import { posix } from 'node:path';

/**
 * Normalises a TOC or tar name the way the reference reader does: `clean("/" + name)` without the
 * leading `/` (`./a/` → `a`, `../x` → `x`, `a/../../b` → `b`, `/abs` → `abs`). The root becomes ''.
 */
export function normalizeTocName(name: string): string {
  // Most names are already clean: return them as they are, without building new strings.
  if (isCleanName(name)) return name;
  const cleaned = posix.normalize(`/${name}`);
  let start = 0;
  let end = cleaned.length;
  while (start < end && cleaned.charCodeAt(start) === 0x2f) start++;
  while (end > start && cleaned.charCodeAt(end - 1) === 0x2f) end--;
  return cleaned.slice(start, end);
}

/** True when `name` is non-empty and every '/'-separated segment is neither empty, '.' nor '..'. */
function isCleanName(name: string): boolean {
  let segmentStart = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name.charCodeAt(i) !== 0x2f) continue;
    const length = i - segmentStart;
    if (length === 0) return false;
    if (
      name.charCodeAt(segmentStart) === 0x2e &&
      (length === 1 || (length === 2 && name.charCodeAt(i - 1) === 0x2e))
    ) {
      return false;
    }
    segmentStart = i + 1;
  }
  return true;
}
