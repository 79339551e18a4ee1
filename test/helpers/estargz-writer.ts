/**
 * A deterministic eStargz writer for tests (it follows DESIGN.md §2, not the reference code): a blob that
 * is one valid gzip tar stream, with a new gzip member at each non-empty file payload and each chunk,
 * then the TOC member (a tar holding stargz.index.json) and the footer. Linear in the input size.
 */

import { createHash, type Hash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface EntryMeta {
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  /** RFC 3339; default 2020-01-01T00:00:00Z */
  mtime?: string;
  xattrs?: Record<string, string | Uint8Array>;
}

export type WriterEntry = EntryMeta &
  (
    | { type: 'dir'; name: string }
    | { type: 'reg'; name: string; content?: Uint8Array }
    | { type: 'symlink' | 'hardlink'; name: string; linkName: string }
    | { type: 'char' | 'block'; name: string; devMajor: number; devMinor: number }
    | { type: 'fifo'; name: string }
  );

export interface WriterOptions {
  /** payload chunk size (default 4 MiB, as the reference writer) */
  chunkSize?: number;
  /** 'legacy' writes the 47-byte stargz footer (default 'estargz', 51 bytes) */
  footer?: 'estargz' | 'legacy';
  /** landmark file written (default 'no-prefetch', first; 'prefetch' comes after `prioritized` entries) */
  landmark?: 'no-prefetch' | 'prefetch' | 'none';
  prioritized?: number;
  /** write chunkDigest (default true; false = legacy style) */
  chunkDigests?: boolean;
  /**
   * Files smaller than this share one gzip member with the small files before them (`innerOffset`).
   * Default 0: every payload starts its own member.
   */
  shareMembersBelow?: number;
  /** put the tar headers that follow a payload into a gzip member of their own (several members per extent) */
  headersInOwnMember?: boolean;
  /** gzip level (default 6) */
  level?: number;
}

/** A TOC entry as written in the JSON (zero values omitted). */
export type TocJsonEntry = Record<string, string | number | Record<string, string>>;

export interface WrittenLayer {
  blob: Buffer;
  /** sha256 of the blob */
  digest: string;
  tocDigest: string;
  tocOffset: number;
  tocJson: string;
  /** sha256 of the uncompressed tar stream */
  diffID: string;
  uncompressedSize: number;
  entries: TocJsonEntry[];
  /** every gzip member start, in order (the TOC and the footer members included) */
  memberOffsets: number[];
}

const DEFAULT_MTIME = '2020-01-01T00:00:00Z';
const TYPEFLAGS = {
  reg: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
} as const;
const ZERO_BLOCKS = Buffer.alloc(1024);
const MAX_OCTAL_7 = 0o7777777;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0');
}

function paxRecord(key: string, value: Uint8Array | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function padTo512(length: number): number {
  return (512 - (length % 512)) % 512;
}

interface HeaderFields {
  name: string;
  typeflag: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkName: string;
  userName: string;
  groupName: string;
  devMajor: number;
  devMinor: number;
}

function ustarHeader(h: HeaderFields): Buffer {
  const block = Buffer.alloc(512);
  block.write(h.name, 0, 100, 'utf8');
  block.write(`${octal(h.mode, 8)}\0`, 100, 'latin1');
  block.write(`${octal(h.uid, 8)}\0`, 108, 'latin1');
  block.write(`${octal(h.gid, 8)}\0`, 116, 'latin1');
  block.write(`${octal(h.size, 12)}\0`, 124, 'latin1');
  block.write(`${octal(h.mtime, 12)}\0`, 136, 'latin1');
  block.write('        ', 148, 'latin1');
  block.write(h.typeflag, 156, 'latin1');
  block.write(h.linkName, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'latin1');
  block.write(h.userName, 265, 32, 'utf8');
  block.write(h.groupName, 297, 32, 'utf8');
  block.write(`${octal(h.devMajor, 8)}\0`, 329, 'latin1');
  block.write(`${octal(h.devMinor, 8)}\0`, 337, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${octal(sum, 7)}\0 `, 148, 'latin1');
  return block;
}

/** The tar header(s) of one entry: a PAX `x` header first when a field does not fit ustar. */
function tarHeaders(h: HeaderFields, xattrs: Record<string, string | Uint8Array>): Buffer {
  const records: Buffer[] = [];
  const fields = { ...h };
  if (Buffer.byteLength(h.name) > 100) {
    records.push(paxRecord('path', h.name));
    fields.name = h.name.slice(0, 50).replace(/[^\x20-\x7e]/g, '_');
  }
  if (Buffer.byteLength(h.linkName) > 100) {
    records.push(paxRecord('linkpath', h.linkName));
    fields.linkName = '';
  }
  if (h.uid > MAX_OCTAL_7) {
    records.push(paxRecord('uid', String(h.uid)));
    fields.uid = 0;
  }
  if (h.gid > MAX_OCTAL_7) {
    records.push(paxRecord('gid', String(h.gid)));
    fields.gid = 0;
  }
  for (const key of Object.keys(xattrs).sort()) {
    records.push(paxRecord(`SCHILY.xattr.${key}`, xattrs[key] as string | Uint8Array));
  }
  if (records.length === 0) return ustarHeader(fields);
  const pax = Buffer.concat(records);
  const paxHeader = ustarHeader({
    ...fields,
    name: 'PaxHeaders.0/entry',
    typeflag: 'x',
    size: pax.length,
    linkName: '',
  });
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padTo512(pax.length)), ustarHeader(fields)]);
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The footer member: an empty gzip member whose extra field holds the TOC offset. */
export function footerBytes(tocOffset: number, kind: 'estargz' | 'legacy'): Buffer {
  const payload = Buffer.from(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 'latin1');
  const extra =
    kind === 'estargz'
      ? Buffer.concat([Buffer.from([26, 0, 0x53, 0x47, 22, 0]), payload])
      : Buffer.concat([Buffer.from([22, 0]), payload]);
  return Buffer.concat([
    Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff]),
    extra,
    Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]),
    Buffer.alloc(8),
  ]);
}

/** Accumulates uncompressed bytes into gzip members and counts compressed offsets. */
class MemberWriter {
  readonly parts: Buffer[] = [];
  readonly memberOffsets: number[] = [];
  compressedSize = 0;
  uncompressedSize = 0;
  private pending: Buffer[] = [];
  /** uncompressed bytes in the open member */
  pendingSize = 0;
  private readonly diff: Hash = createHash('sha256');

  constructor(private readonly level: number) {}

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.pending.push(buffer);
    this.pendingSize += buffer.length;
    this.uncompressedSize += buffer.length;
    this.diff.update(buffer);
  }

  /** Compresses the open member, if it holds anything; the next bytes start a new member. */
  close(): void {
    if (this.pendingSize === 0) return;
    const input = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending);
    this.addMember(gzipSync(input, { level: this.level }));
    this.pending = [];
    this.pendingSize = 0;
  }

  addMember(compressed: Buffer): void {
    this.memberOffsets.push(this.compressedSize);
    this.parts.push(compressed);
    this.compressedSize += compressed.length;
  }

  diffID(): string {
    return `sha256:${this.diff.digest('hex')}`;
  }
}

function withLandmark(entries: readonly WriterEntry[], options: WriterOptions): readonly WriterEntry[] {
  const kind = options.landmark ?? 'no-prefetch';
  if (kind === 'none') return entries;
  const landmark: WriterEntry = {
    type: 'reg',
    name: kind === 'prefetch' ? '.prefetch.landmark' : '.no.prefetch.landmark',
    content: Buffer.from([0x0f]),
    mode: 0,
  };
  const at = kind === 'prefetch' ? (options.prioritized ?? 0) : 0;
  return [...entries.slice(0, at), landmark, ...entries.slice(at)];
}

/** Writes an eStargz layer holding `entries` (in that order). */
export function writeEstargz(entries: readonly WriterEntry[], options: WriterOptions = {}): WrittenLayer {
  const chunkSize = options.chunkSize ?? 4 * 1024 * 1024;
  const shareBelow = options.shareMembersBelow ?? 0;
  const writeChunkDigests = options.chunkDigests ?? true;
  const out = new MemberWriter(options.level ?? 6);
  const toc: TocJsonEntry[] = [];
  const userNames = new Map<number, string>();
  const groupNames = new Map<number, string>();
  /** the open member holds only small shared payloads (and headers), so the next small file may join it */
  let sharing = false;

  for (const entry of withLandmark(entries, options)) {
    const content = entry.type === 'reg' ? (entry.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const mtime = entry.mtime ?? DEFAULT_MTIME;
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    const linkName = entry.type === 'symlink' || entry.type === 'hardlink' ? entry.linkName : '';
    const devMajor = entry.type === 'char' || entry.type === 'block' ? entry.devMajor : 0;
    const devMinor = entry.type === 'char' || entry.type === 'block' ? entry.devMinor : 0;
    const defaultMode = entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644;
    const mode = entry.mode ?? defaultMode;
    const name = entry.type === 'dir' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
    const userName = entry.userName ?? (uid === 0 ? 'root' : '');
    const groupName = entry.groupName ?? (gid === 0 ? 'root' : '');
    const xattrs = entry.xattrs ?? {};

    out.append(
      tarHeaders(
        {
          name,
          typeflag: TYPEFLAGS[entry.type],
          size: content.length,
          mode,
          uid,
          gid,
          mtime: Math.floor(Date.parse(mtime) / 1000),
          linkName,
          userName,
          groupName,
          devMajor,
          devMinor,
        },
        xattrs,
      ),
    );

    const json: TocJsonEntry = { name, type: entry.type };
    if (content.length > 0) json['size'] = content.length;
    json['modtime'] = mtime;
    if (linkName !== '') json['linkName'] = linkName;
    if (mode !== 0) json['mode'] = mode;
    if (uid !== 0) json['uid'] = uid;
    if (gid !== 0) json['gid'] = gid;
    if (userName !== '' && userNames.get(uid) !== userName) {
      json['userName'] = userName;
      userNames.set(uid, userName);
    }
    if (groupName !== '' && groupNames.get(gid) !== groupName) {
      json['groupName'] = groupName;
      groupNames.set(gid, groupName);
    }
    if (devMajor !== 0) json['devMajor'] = devMajor;
    if (devMinor !== 0) json['devMinor'] = devMinor;
    const xattrKeys = Object.keys(xattrs);
    if (xattrKeys.length > 0) {
      json['xattrs'] = Object.fromEntries(
        xattrKeys.map((key) => [key, Buffer.from(xattrs[key] as string | Uint8Array).toString('base64')]),
      );
    }
    if (entry.type === 'reg') json['digest'] = sha256(content);
    toc.push(json);

    if (content.length === 0) continue;
    const small = content.length < shareBelow;
    for (let chunkOffset = 0; chunkOffset < content.length; chunkOffset += chunkSize) {
      const chunk = content.subarray(chunkOffset, Math.min(content.length, chunkOffset + chunkSize));
      let innerOffset = 0;
      if (chunkOffset === 0 && small && sharing) {
        innerOffset = out.pendingSize;
      } else {
        out.close();
      }
      // an open member starts where the compressed bytes so far end
      const offset = out.compressedSize;
      const chunkJson: TocJsonEntry = chunkOffset === 0 ? json : { name, type: 'chunk' };
      chunkJson['offset'] = offset;
      if (innerOffset > 0) chunkJson['innerOffset'] = innerOffset;
      if (chunkOffset > 0) chunkJson['chunkOffset'] = chunkOffset;
      if (content.length - chunkOffset >= chunkSize) chunkJson['chunkSize'] = chunkSize;
      if (writeChunkDigests) chunkJson['chunkDigest'] = sha256(chunk);
      if (chunkOffset > 0) toc.push(chunkJson);
      out.append(chunk);
    }
    out.append(Buffer.alloc(padTo512(content.length)));
    sharing = small;
    if (options.headersInOwnMember) {
      out.close();
      sharing = false;
    }
  }
  out.close();

  const tocOffset = out.compressedSize;
  const tocJson = JSON.stringify({ version: 1, entries: toc }, null, '\t');
  const tocBytes = Buffer.from(tocJson);
  out.append(
    Buffer.concat([
      ustarHeader({
        name: 'stargz.index.json',
        typeflag: '0',
        size: tocBytes.length,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 0,
        linkName: '',
        userName: '',
        groupName: '',
        devMajor: 0,
        devMinor: 0,
      }),
      tocBytes,
      Buffer.alloc(padTo512(tocBytes.length)),
      ZERO_BLOCKS,
    ]),
  );
  out.close();
  out.addMember(footerBytes(tocOffset, options.footer ?? 'estargz'));
  const blob = Buffer.concat(out.parts, out.compressedSize);
  return {
    blob,
    digest: sha256(blob),
    tocDigest: sha256(tocBytes),
    tocOffset,
    tocJson,
    diffID: out.diffID(),
    uncompressedSize: out.uncompressedSize,
    entries: toc,
    memberOffsets: out.memberOffsets,
  };
}

/** A copy of `blob` with the byte at `at` inverted. */
export function corruptByte(blob: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(blob);
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
}

/**
 * A position inside the compressed data of the member that holds `name`'s payload (its `chunk`-th
 * chunk, 0 = the reg entry): the middle of the deflate data, past the gzip header.
 */
export function payloadPosition(layer: WrittenLayer, name: string, chunk = 0): number {
  const pieces = layer.entries.filter((e) => e['name'] === name && e['offset'] !== undefined);
  const piece = pieces[chunk];
  if (piece === undefined) throw new Error(`no payload chunk ${chunk} for ${name}`);
  const offset = piece['offset'] as number;
  const index = layer.memberOffsets.indexOf(offset);
  const end = layer.memberOffsets[index + 1] ?? layer.tocOffset;
  return offset + 10 + Math.floor((end - offset - 18) / 2);
}
