/**
 * The fixtures' merged-view oracle, `expected/manifest.tsv` (see test/fixtures/README.md): parse it, make the
 * same rows from an `ImageIndex` (or any entry list), and compare with a readable difference.
 */

import { readFileSync } from 'node:fs';
import type { IndexEntry } from '../../src/image/types.js';

export const MANIFEST_COLUMNS = [
  'path',
  'type',
  'mode',
  'uid',
  'gid',
  'size',
  'sha256',
  'link',
  'mtime',
  'xattrs',
  'hardlinkOf',
] as const;

/** One line of the oracle, every column as text (`-` where the README says so). */
export type ManifestRow = Record<(typeof MANIFEST_COLUMNS)[number], string>;

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Parses the text of a manifest.tsv (header line skipped, rows kept in file order). */
export function parseManifestTsv(text: string): ManifestRow[] {
  const rows: ManifestRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split('\t');
    if (cells.length !== MANIFEST_COLUMNS.length) {
      throw new Error(
        `manifest.tsv: expected ${MANIFEST_COLUMNS.length} columns, got ${cells.length}: ${line}`,
      );
    }
    rows.push(Object.fromEntries(MANIFEST_COLUMNS.map((column, i) => [column, cells[i]!])) as ManifestRow);
  }
  return rows;
}

/** Reads and parses a manifest.tsv file. */
export function readManifestTsv(file: string): ManifestRow[] {
  return parseManifestTsv(readFileSync(file, 'utf8'));
}

/** The oracle row for one view entry. */
export function manifestRow(entry: IndexEntry): ManifestRow {
  const isReg = entry.type === 'reg';
  let sha256 = '-';
  if (isReg) {
    if (entry.digest !== undefined) sha256 = entry.digest.replace(/^sha256:/, '');
    else sha256 = entry.size === 0 ? EMPTY_SHA256 : '?';
  }
  let link = '-';
  if (entry.type === 'symlink') link = entry.linkName ?? '';
  else if (entry.type === 'char' || entry.type === 'block')
    link = `${entry.devMajor ?? 0},${entry.devMinor ?? 0}`;
  return {
    path: entry.path,
    type: entry.type,
    mode: entry.mode.toString(8).padStart(4, '0'),
    uid: String(entry.uid),
    gid: String(entry.gid),
    size: isReg ? String(entry.size) : '-',
    sha256,
    link,
    mtime: entry.modtime ?? '-',
    xattrs: formatXattrs(entry.xattrs),
    hardlinkOf: entry.hardlinkOf ?? '-',
  };
}

/** The oracle rows for entries (e.g. `index.entries()`), in the given order. */
export function manifestRows(entries: Iterable<IndexEntry>): ManifestRow[] {
  return [...entries].map(manifestRow);
}

/** A row as its tab-separated line. */
export function formatManifestRow(row: ManifestRow): string {
  return MANIFEST_COLUMNS.map((column) => row[column]).join('\t');
}

/**
 * The differences between two row lists, as readable lines (empty when equal): rows only in one side, and
 * for a path in both, each column that differs. Order matters: a right set in the wrong order is reported.
 */
export function diffManifest(expected: readonly ManifestRow[], actual: readonly ManifestRow[]): string[] {
  const out: string[] = [];
  const actualByPath = new Map(actual.map((row) => [row.path, row]));
  const expectedByPath = new Map(expected.map((row) => [row.path, row]));
  for (const row of expected) {
    const other = actualByPath.get(row.path);
    if (other === undefined) {
      out.push(`missing: ${formatManifestRow(row)}`);
      continue;
    }
    for (const column of MANIFEST_COLUMNS) {
      if (row[column] !== other[column])
        out.push(`${row.path}: ${column} expected ${row[column]} got ${other[column]}`);
    }
  }
  for (const row of actual)
    if (!expectedByPath.has(row.path)) out.push(`unexpected: ${formatManifestRow(row)}`);
  if (out.length === 0) {
    const order = (rows: readonly ManifestRow[]) => rows.map((row) => row.path).join('\n');
    if (order(expected) !== order(actual)) out.push('same rows in a different order');
  }
  return out;
}

/** `-`, or `key="value"` pairs sorted by key (byte order) and joined by `;`, values quoted as Go's strconv.Quote. */
export function formatXattrs(xattrs: Record<string, Uint8Array>): string {
  const keys = Object.keys(xattrs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (keys.length === 0) return '-';
  return keys.map((key) => `${key}=${quoteGo(xattrs[key]!)}`).join(';');
}

const PRINTABLE = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;
const NAMED_ESCAPES: Record<number, string> = {
  7: '\\a',
  8: '\\b',
  12: '\\f',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  11: '\\v',
  34: '\\"',
  92: '\\\\',
};

/** Go's `strconv.Quote` of a byte string: UTF-8 decoded, invalid bytes as `\xNN`, unprintable runes escaped. */
export function quoteGo(bytes: Uint8Array): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const [rune, width] = decodeRune(bytes, i);
    if (rune < 0) {
      out += `\\x${hex(bytes[i]!, 2)}`;
      i += 1;
      continue;
    }
    i += width;
    const named = NAMED_ESCAPES[rune];
    if (named !== undefined) out += named;
    else if (rune < 0x20 || rune === 0x7f) out += `\\x${hex(rune, 2)}`;
    else if (PRINTABLE.test(String.fromCodePoint(rune))) out += String.fromCodePoint(rune);
    else if (rune < 0x10000) out += `\\u${hex(rune, 4)}`;
    else out += `\\U${hex(rune, 8)}`;
  }
  return out + '"';
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/** One UTF-8 rune at `i`: [code point, bytes], or [-1, 1] for an invalid or overlong sequence. */
function decodeRune(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return [b0, 1];
  const width = b0 >= 0xf0 && b0 < 0xf5 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 < 0xe0 ? 2 : 0;
  if (width === 0 || (width === 3 && b0 >= 0xf0) || i + width > bytes.length) return [-1, 1];
  let rune = b0 & (0xff >> (width + 1));
  for (let k = 1; k < width; k++) {
    const b = bytes[i + k]!;
    if ((b & 0xc0) !== 0x80) return [-1, 1];
    rune = (rune << 6) | (b & 0x3f);
  }
  const min = width === 2 ? 0x80 : width === 3 ? 0x800 : 0x10000;
  if (rune < min || rune > 0x10ffff || (rune >= 0xd800 && rune <= 0xdfff)) return [-1, 1];
  return [rune, width];
}
