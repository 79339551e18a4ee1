/**
 * The TOC: the gzip member at the footer's TOC offset holds a tar whose entry `stargz.index.json` is the
 * JSON `{"version":1,"entries":[…]}`. This module decompresses it (with size caps), finds the JSON,
 * validates it and turns it into `Toc` entries with their payload chunks and compressed extents.
 */

import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { StargzError } from '../errors.js';
import { assignCompressedEnds } from './extents.js';
import { normalizeTocName } from './name.js';
import { findTarFile } from './tar.js';
import { TOC_TAR_NAME, type Toc, type TocChunk, type TocEntry, type TocEntryType } from './types.js';

/** The largest uncompressed TOC JSON accepted (a guard against gzip bombs). */
export const MAX_TOC_JSON_BYTES = 150 * 1024 * 1024;
/** The most TOC entries accepted (real layers hold well under a million files). */
export const MAX_TOC_ENTRIES = 2_000_000;
/** Room for the tar headers and padding around the JSON in the TOC member. */
const TAR_OVERHEAD = 64 * 1024;
/**
 * The largest compressed TOC member accepted: gzip never grows data by more than a few bytes per 64 KiB,
 * so a member larger than this cannot hold a TOC within the limits (a guard against hostile footers).
 */
export const MAX_TOC_MEMBER_BYTES = MAX_TOC_JSON_BYTES + 2 * TAR_OVERHEAD;

export interface TocContext {
  /** where the TOC member starts: every payload lies before it */
  tocOffset: number;
  blobSize: number;
}

const ENTRY_TYPES: ReadonlySet<string> = new Set([
  'dir',
  'reg',
  'symlink',
  'hardlink',
  'char',
  'block',
  'fifo',
]);
const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The xattrs of every entry that has none: one frozen object instead of one per entry. */
const NO_XATTRS: Record<string, Uint8Array> = Object.freeze({}) as Record<string, Uint8Array>;

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): StargzError {
  return new StargzError('E_TOC_INVALID', `invalid eStargz TOC: ${message}`, { details, cause });
}

/**
 * Decompresses the TOC member (bytes [tocOffset, blobSize - footerSize)), reads `stargz.index.json`
 * from its tar, and parses it. The TOC digest is the sha256 of the uncompressed JSON bytes.
 */
export function parseTocMember(member: Uint8Array, ctx: TocContext): { toc: Toc; tocDigest: string } {
  let tar: Buffer;
  try {
    tar = gunzipSync(member, { maxOutputLength: MAX_TOC_JSON_BYTES + TAR_OVERHEAD });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw invalid(`the TOC decompresses to more than ${MAX_TOC_JSON_BYTES} bytes`, {}, error);
    }
    throw invalid(
      `the TOC member is not valid gzip (${(error as Error).message})`,
      { tocOffset: ctx.tocOffset },
      error,
    );
  }
  const json = findTarFile(tar, TOC_TAR_NAME);
  if (json === undefined) {
    throw invalid(`the TOC member holds no ${TOC_TAR_NAME}`, { tocOffset: ctx.tocOffset });
  }
  if (json.length > MAX_TOC_JSON_BYTES)
    throw invalid(`the TOC JSON is larger than ${MAX_TOC_JSON_BYTES} bytes`);
  const tocDigest = `sha256:${createHash('sha256').update(json).digest('hex')}`;
  return { toc: parseTocJson(json, ctx), tocDigest };
}

/** Parses and validates TOC JSON (bytes or text). Chunk entries are folded into their file's `chunks`. */
export function parseTocJson(json: Uint8Array | string, ctx: TocContext): Toc {
  const document = parseJson(json);
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalid('the TOC JSON is not an object');
  }
  const { version, entries } = document as { version?: unknown; entries?: unknown };
  if (typeof version !== 'number') throw invalid('the TOC has no version');
  if (version !== 1) {
    throw new StargzError(
      'E_UNSUPPORTED',
      `eStargz TOC version ${version} is not supported (only version 1)`,
      {
        details: { version },
      },
    );
  }
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) {
    throw invalid('"entries" is not an array');
  }
  const rawEntries: unknown[] = entries ?? [];
  if (rawEntries.length > MAX_TOC_ENTRIES) {
    throw invalid(`the TOC has ${rawEntries.length} entries, more than the limit of ${MAX_TOC_ENTRIES}`);
  }
  return { version, entries: buildEntries(rawEntries, ctx) };
}

/** The JSON document; the decoded text is dropped on return, before the entries are built. */
function parseJson(json: Uint8Array | string): unknown {
  try {
    return JSON.parse(
      typeof json === 'string' ? json : new TextDecoder('utf-8', { fatal: true }).decode(json),
    );
  } catch (error) {
    throw invalid(`the TOC is not valid JSON (${(error as Error).message})`, {}, error);
  }
}

/** Reads typed fields of one raw entry, naming the entry in every error. */
class FieldReader {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly index: number,
    private readonly ctx: TocContext,
  ) {}

  fail(message: string): StargzError {
    return invalid(`entry ${this.index} (${JSON.stringify(this.raw['name'])}): ${message}`, {
      index: this.index,
      name: this.raw['name'],
    });
  }

  /** A non-negative safe integer; absent or null means 0. */
  int(key: string): number {
    const value = this.raw[key];
    if (value === undefined || value === null) return 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw this.fail(`"${key}" must be a non-negative integer, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** An offset into the data area [0, tocOffset]. */
  offset(key: string): number {
    const value = this.int(key);
    if (value > this.ctx.tocOffset)
      throw this.fail(`"${key}" ${value} lies past the TOC offset ${this.ctx.tocOffset}`);
    return value;
  }

  /** A string; absent or null means ''. */
  str(key: string): string {
    const value = this.raw[key];
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') throw this.fail(`"${key}" must be a string`);
    return value;
  }

  digest(key: string): string | undefined {
    const value = this.str(key);
    if (value === '') return undefined;
    if (!DIGEST.test(value))
      throw this.fail(`"${key}" is not a sha256/sha512 digest: ${JSON.stringify(value)}`);
    return value;
  }

  xattrs(): Record<string, Uint8Array> {
    const value = this.raw['xattrs'];
    if (value === undefined || value === null) return NO_XATTRS;
    if (typeof value !== 'object' || Array.isArray(value)) throw this.fail('"xattrs" must be an object');
    const keys = Object.keys(value);
    if (keys.length === 0) return NO_XATTRS;
    const out: Record<string, Uint8Array> = {};
    for (const [key, encoded] of Object.entries(value)) {
      if (typeof encoded !== 'string' || !BASE64.test(encoded)) {
        throw this.fail(`xattr ${JSON.stringify(key)} is not base64`);
      }
      out[key] = new Uint8Array(Buffer.from(encoded, 'base64'));
    }
    return out;
  }
}

/** Builds the entries; each raw entry is released from `rawEntries` once read, so it can be collected. */
function buildEntries(rawEntries: unknown[], ctx: TocContext): TocEntry[] {
  const entries: TocEntry[] = [];
  const pieces: TocChunk[] = [];
  const pieceNames: string[] = [];
  const userNames = new Map<number, string>();
  const groupNames = new Map<number, string>();
  const shared: SharedStrings = { modtime: '' };
  let openFile: TocEntry | undefined;

  for (let index = 0; index < rawEntries.length; index++) {
    const raw = rawEntries[index];
    rawEntries[index] = undefined;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw invalid(`entry ${index} is not an object`, { index });
    }
    const fields = new FieldReader(raw as Record<string, unknown>, index, ctx);
    const rawName = (raw as Record<string, unknown>)['name'];
    const type = (raw as Record<string, unknown>)['type'];
    if (typeof rawName !== 'string') throw fields.fail('"name" must be a string');
    if (rawName.includes('\0')) throw fields.fail('the name holds a NUL byte');
    if (typeof type !== 'string' || (type !== 'chunk' && !ENTRY_TYPES.has(type))) {
      throw fields.fail(`unknown entry type ${JSON.stringify(type)}`);
    }
    const name = normalizeTocName(rawName);

    if (type === 'chunk') {
      if (openFile === undefined || openFile.name !== name) {
        throw fields.fail('a chunk entry must follow the regular file (or chunk) with the same name');
      }
      const chunk = readChunk(fields);
      openFile.chunks.push(chunk);
      pieces.push(chunk);
      pieceNames.push(name);
      continue;
    }
    if (openFile !== undefined) finishFile(openFile);
    openFile = undefined;

    if (name === '') {
      if (type === 'dir') continue; // the root directory is implied, never an entry
      throw fields.fail('a non-directory entry names the root');
    }
    const entry = readEntry(fields, rawName, name, type as TocEntryType, userNames, groupNames, shared);
    entries.push(entry);
    if (type === 'reg') {
      if (entry.size > 0) {
        const chunk = readChunk(fields, entry.digest);
        if (chunk.chunkOffset !== 0) throw fields.fail('the first chunk of a file must have chunkOffset 0');
        entry.chunks = [chunk]; // sized for the one chunk most files have (push would reserve 17)
        pieces.push(chunk);
        pieceNames.push(name);
      }
      openFile = entry;
    }
  }
  if (openFile !== undefined) finishFile(openFile);
  assignCompressedEnds(pieces, pieceNames, ctx.tocOffset);
  return entries;
}

/** Strings that repeat from entry to entry, kept once. */
interface SharedStrings {
  /** the last modtime seen (most entries of a layer share one) */
  modtime: string;
}

/** A chunk; its digest is the same string as `fileDigest` when equal (a file stored as one chunk). */
function readChunk(fields: FieldReader, fileDigest?: string): TocChunk {
  const chunk: TocChunk = {
    offset: fields.offset('offset'),
    innerOffset: fields.int('innerOffset'),
    compressedEnd: 0,
    chunkOffset: fields.int('chunkOffset'),
    chunkSize: fields.int('chunkSize'),
  };
  const chunkDigest = fields.digest('chunkDigest');
  if (chunkDigest !== undefined) chunk.chunkDigest = chunkDigest === fileDigest ? fileDigest : chunkDigest;
  return chunk;
}

function readEntry(
  fields: FieldReader,
  rawName: string,
  name: string,
  type: TocEntryType,
  userNames: Map<number, string>,
  groupNames: Map<number, string>,
  shared: SharedStrings,
): TocEntry {
  const uid = fields.int('uid');
  const gid = fields.int('gid');
  const entry: TocEntry = {
    name,
    rawName,
    type,
    size: type === 'reg' ? fields.int('size') : 0,
    mode: fields.int('mode') & 0o7777,
    uid,
    gid,
    linkName: fields.str('linkName'),
    devMajor: fields.int('devMajor'),
    devMinor: fields.int('devMinor'),
    xattrs: fields.xattrs(),
    chunks: [],
  };
  if (type !== 'reg') fields.int('size'); // still validated
  const userName = carryForward(userNames, uid, fields.str('userName'));
  if (userName !== undefined) entry.userName = userName;
  const groupName = carryForward(groupNames, gid, fields.str('groupName'));
  if (groupName !== undefined) entry.groupName = groupName;
  const modtime = fields.str('modtime');
  if (modtime !== '') {
    if (modtime !== shared.modtime) shared.modtime = modtime;
    entry.modtime = shared.modtime;
  }
  const digest = fields.digest('digest');
  if (digest !== undefined) entry.digest = digest;
  if (type === 'hardlink') {
    entry.linkName = normalizeTocName(entry.linkName);
    if (entry.linkName === '') throw fields.fail('a hardlink needs a linkName');
  } else if (type === 'symlink' && entry.linkName === '') {
    throw fields.fail('a symlink needs a linkName');
  }
  return entry;
}

/** userName/groupName are written only when they change for an id: remember the last one per id. */
function carryForward(names: Map<number, string>, id: number, written: string): string | undefined {
  const known = names.get(id);
  if (written === '' || written === known) return known;
  names.set(id, written);
  return written;
}

/** Resolves chunk sizes (0 = to end of file) and checks the chunks tile the file exactly. */
function finishFile(file: TocEntry): void {
  let expectedOffset = 0;
  const fail = (message: string): StargzError =>
    invalid(`file ${JSON.stringify(file.rawName)}: ${message}`, { name: file.name });
  for (let i = 0; i < file.chunks.length; i++) {
    const chunk = file.chunks[i] as TocChunk;
    if (chunk.chunkOffset !== expectedOffset) {
      throw fail(
        `chunk ${i} starts at ${chunk.chunkOffset}, expected ${expectedOffset} (chunks must be contiguous)`,
      );
    }
    if (chunk.chunkSize === 0) chunk.chunkSize = file.size - chunk.chunkOffset;
    if (chunk.chunkSize <= 0 || chunk.chunkOffset + chunk.chunkSize > file.size) {
      throw fail(`chunk ${i} runs past the file size ${file.size}`);
    }
    expectedOffset = chunk.chunkOffset + chunk.chunkSize;
  }
  if (expectedOffset !== file.size) {
    throw fail(`the chunks cover ${expectedOffset} of ${file.size} bytes`);
  }
  const only = file.chunks[0];
  if (
    file.chunks.length === 1 &&
    only !== undefined &&
    only.chunkDigest === undefined &&
    file.digest !== undefined
  ) {
    // a single chunk holds exactly the file's bytes, so the file digest verifies it (legacy layers)
    only.chunkDigest = file.digest;
  }
}
