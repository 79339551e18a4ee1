/** Path helpers shared by the merged view and the patterns. */

const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * `clean("/" + p)` without the leading `/`: drops empty and `.` segments, resolves `..` (never above the root),
 * and removes leading and trailing slashes. The root is the empty string.
 */
export function cleanPath(p: string): string {
  if (
    p !== '' &&
    p.charCodeAt(0) !== 47 &&
    p.charCodeAt(p.length - 1) !== 47 &&
    !p.includes('//') &&
    !DOT_SEGMENT.test(p)
  ) {
    return p;
  }
  const out: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return out.join('/');
}

/** The parent of a clean path (`''` for a top-level name). */
export function parentPath(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash < 0 ? '' : p.slice(0, slash);
}

/** The last segment of a clean path. */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Maps a UTF-16 code unit so that code-unit order equals code-point (and so UTF-8 byte) order. */
function sortKey(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit <= 0xdfff) return unit + 0x2000;
  return unit - 0x800;
}

/** Orders strings by the byte values of their UTF-8 encoding. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return sortKey(x) - sortKey(y);
  }
  return a.length - b.length;
}
