/** Types of the eStargz table of contents, after parsing and validation. */

export type FooterKind = 'estargz' | 'legacy';

export interface Footer {
  kind: FooterKind;
  /** 51 for eStargz, 47 for legacy stargz */
  size: number;
  /** where the TOC gzip member starts in the blob */
  tocOffset: number;
}

/** The entry types a TOC may hold (`chunk` entries are folded into their file's `chunks`). */
export type TocEntryType = 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One piece of a regular file's payload, stored from a gzip member start (plus innerOffset). */
export interface TocChunk {
  /** start of the gzip member in the blob */
  offset: number;
  /** uncompressed bytes to skip inside that member before this chunk's bytes */
  innerOffset: number;
  /** end (exclusive) of the compressed extent to fetch: the next different member offset, or the TOC offset */
  compressedEnd: number;
  /** position of this chunk in the file */
  chunkOffset: number;
  /** bytes of this chunk (resolved: never 0 for a non-empty file) */
  chunkSize: number;
  /**
   * sha256 of this chunk's bytes, `sha256:<hex>`, when the TOC has it; for a file stored as one chunk
   * without a chunkDigest (legacy layers) the file's `digest`, which covers the same bytes
   */
  chunkDigest?: string;
}

export interface TocEntry {
  /** normalised path: clean('/' + name) without the leading '/' (never empty: the root is not an entry) */
  name: string;
  /** the name exactly as in the TOC */
  rawName: string;
  type: TocEntryType;
  /** file size (reg), else 0 */
  size: number;
  /** permission bits including setuid/setgid/sticky (no file type bits) */
  mode: number;
  uid: number;
  gid: number;
  userName?: string;
  groupName?: string;
  /** RFC 3339 modification time as in the TOC, when present */
  modtime?: string;
  /** symlink: target exactly as stored; hardlink: normalised path of the target */
  linkName: string;
  devMajor: number;
  devMinor: number;
  /** extended attributes, values decoded from base64 */
  xattrs: Record<string, Uint8Array>;
  /** sha256 of the whole file, `sha256:<hex>`, when the TOC has it */
  digest?: string;
  /** payload pieces in file order; empty for everything but non-empty regular files */
  chunks: TocChunk[];
}

export interface Toc {
  version: number;
  /** entries in TOC order, chunk entries folded into their file, landmarks and stargz.index.json kept */
  entries: TocEntry[];
}

/** What opening a layer yields: its footer, TOC and digest. */
export interface LayerToc {
  footer: Footer;
  toc: Toc;
  /** sha256 of the uncompressed TOC JSON, `sha256:<hex>` */
  tocDigest: string;
  /** bytes of the whole blob */
  blobSize: number;
}

/** Names that are markers, not content. */
export const LANDMARK_NAMES: ReadonlySet<string> = new Set(['.prefetch.landmark', '.no.prefetch.landmark']);
export const TOC_TAR_NAME = 'stargz.index.json';
