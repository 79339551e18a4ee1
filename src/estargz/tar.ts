/**
 * A small, pure tar reader over bytes in memory: ustar and GNU headers, PAX extended headers (`x`, with
 * `g` global headers skipped) and GNU long names (`L`/`K`). It is enough to find `stargz.index.json` in
 * the TOC member and to list a decompressed layer in tests. Every problem is E_TOC_INVALID.
 */

import { StargzError } from '../errors.js';

const BLOCK = 512;

export interface TarEntry {
  /** the path as stored (PAX `path` or GNU long name when present) */
  name: string;
  /** the typeflag character ('0' for a regular file; '\0' is reported as '0') */
  typeflag: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkName: string;
  /** PAX records that applied to this entry (including `SCHILY.xattr.*`) */
  pax: Record<string, string>;
  /** the payload: a view into the input, no copy */
  data: Uint8Array;
  /** position of the header in the input */
  headerOffset: number;
}

function invalid(message: string, details: Record<string, unknown> = {}): StargzError {
  return new StargzError('E_TOC_INVALID', `invalid tar in the TOC member: ${message}`, { details });
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** A NUL-terminated string field, decoded as UTF-8. */
function readString(bytes: Uint8Array, at: number, length: number): string {
  let end = at;
  const limit = at + length;
  while (end < limit && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(at, end));
}

/** An octal number field (spaces/NUL padded) or a GNU base-256 number (high bit set). */
function readNumber(bytes: Uint8Array, at: number, length: number, field: string): number {
  const first = bytes[at] ?? 0;
  if (first & 0x80) {
    if (first & 0x40) throw invalid(`negative ${field} in a header`);
    let value = first & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + (bytes[at + i] ?? 0);
    if (!Number.isSafeInteger(value)) throw invalid(`${field} too large in a header`);
    return value;
  }
  const text = latin1
    .decode(bytes.subarray(at, at + length))
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`${field} field is not octal: ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

function checksumMatches(bytes: Uint8Array, at: number): boolean {
  const stored = readNumber(bytes, at + 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (bytes[at + i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parses PAX records `"<len> <key>=<value>\n"`. */
function parsePax(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break;
    let space = pos;
    while (space < data.length && data[space] !== 0x20) space++;
    const lengthText = latin1.decode(data.subarray(pos, space));
    const length = Number(lengthText);
    if (!/^[0-9]+$/.test(lengthText) || length <= space - pos || pos + length > data.length) {
      throw invalid('malformed PAX record');
    }
    const record = utf8.decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf('=');
    if (eq <= 0 || data[pos + length - 1] !== 0x0a) throw invalid('malformed PAX record');
    records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

/** Iterates the entries of a tar archive held in `bytes`, stopping at the end-of-archive marker. */
export function* readTarEntries(bytes: Uint8Array): Generator<TarEntry> {
  let pos = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (pos + BLOCK <= bytes.length) {
    if (isZeroBlock(bytes, pos)) return;
    if (!checksumMatches(bytes, pos)) throw invalid('header checksum mismatch', { offset: pos });
    const typeflag = bytes[pos + 156] === 0 ? '0' : String.fromCharCode(bytes[pos + 156] as number);
    const size = readNumber(bytes, pos + 124, 12, 'size');
    const dataStart = pos + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > bytes.length) throw invalid('an entry runs past the end of the archive', { offset: pos });
    const data = bytes.subarray(dataStart, dataEnd);
    const headerOffset = pos;
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    switch (typeflag) {
      case 'x':
        pax = { ...pax, ...parsePax(data) };
        continue;
      case 'g':
        continue;
      case 'L':
        longName = readString(data, 0, data.length);
        continue;
      case 'K':
        longLink = readString(data, 0, data.length);
        continue;
    }
    const magic = latin1.decode(bytes.subarray(headerOffset + 257, headerOffset + 263));
    let name = readString(bytes, headerOffset, 100);
    if (magic === 'ustar\0') {
      const prefix = readString(bytes, headerOffset + 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    const entry: TarEntry = {
      name: pax['path'] ?? longName ?? name,
      typeflag,
      size: pax['size'] !== undefined ? Number(pax['size']) : size,
      mode: readNumber(bytes, headerOffset + 100, 8, 'mode'),
      uid: pax['uid'] !== undefined ? Number(pax['uid']) : readNumber(bytes, headerOffset + 108, 8, 'uid'),
      gid: pax['gid'] !== undefined ? Number(pax['gid']) : readNumber(bytes, headerOffset + 116, 8, 'gid'),
      linkName: pax['linkpath'] ?? longLink ?? readString(bytes, headerOffset + 157, 100),
      pax,
      data,
      headerOffset,
    };
    if (entry.size !== size) throw invalid('PAX size records are not supported', { offset: headerOffset });
    pax = {};
    longName = undefined;
    longLink = undefined;
    yield entry;
  }
  if (pos < bytes.length) throw invalid('the archive ends inside a header', { offset: pos });
}

/** Removes `./` and leading `/` so `./stargz.index.json` and `stargz.index.json` compare equal. */
function plainName(name: string): string {
  return name.replace(/^(\.?\/)+/, '');
}

/** The payload of the first regular file named `name` in the archive, or undefined. */
export function findTarFile(bytes: Uint8Array, name: string): Uint8Array | undefined {
  for (const entry of readTarEntries(bytes)) {
    if (entry.typeflag === '0' && plainName(entry.name) === name) return entry.data;
  }
  return undefined;
}
