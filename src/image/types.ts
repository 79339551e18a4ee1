/** Types of the merged (layer-applied) view of an image. */

import type { TocChunk, TocEntry } from '../estargz/types.js';
import type { Descriptor } from '../registry/types.js';

/** The kinds of entries a view holds (hardlinks are resolved to the content they share). */
export type IndexEntryType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

/** One path of the view. */
export interface IndexEntry {
  /** normalised path, no leading `/` (the root is never an entry) */
  path: string;
  type: IndexEntryType;
  /** permission bits including setuid/setgid/sticky */
  mode: number;
  uid: number;
  gid: number;
  userName?: string;
  groupName?: string;
  /** bytes of content (reg), else 0 */
  size: number;
  /** RFC 3339 modification time as in the TOC; absent for implied directories */
  modtime?: string;
  /** symlink target exactly as stored (symlinks only) */
  linkName?: string;
  /** device numbers (char and block devices only) */
  devMajor?: number;
  devMinor?: number;
  xattrs: Record<string, Uint8Array>;
  /** sha256 of the whole content, `sha256:<hex>`, when the TOC has it */
  digest?: string;
  /** where the content lives in the layer blob, in file order (empty when there is none to fetch) */
  chunks: TocChunk[];
  /** the layer the entry (its metadata and content) comes from; for an implied directory, the highest layer implying it */
  layerDigest: string;
  /** position of that layer in the image, 0 = bottom */
  layerIndex: number;
  /**
   * The normalised TOC name, in that layer, of the entry holding the content and metadata: the path itself,
   * or a hardlink's target. Absent for implied directories.
   */
  sourcePath?: string;
  /** for a hardlink whose target is visible in the same view and comes from the same layer: the target's path */
  hardlinkOf?: string;
  /** true for a directory with no entry of its own in any layer (mode 0755, uid/gid 0, no mtime) */
  implied: boolean;
}

/** A layer as given to the index, bottom to top. */
export interface IndexLayerInput {
  digest: string;
  toc: { entries: readonly TocEntry[] };
  descriptor?: Descriptor;
}

/** A layer as the index knows it. */
export interface IndexLayer {
  digest: string;
  /** position in the image, 0 = bottom */
  index: number;
  descriptor?: Descriptor;
}
