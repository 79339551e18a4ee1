/**
 * The merged view of an image's layers, as an overlay file system shows it (the definition the fixture
 * oracles use): later layers replace earlier entries, directories merge, `.wh.` whiteouts and opaque markers hide
 * lower content, implied directories exist, hardlinks resolve to their target's content, markers are hidden.
 */

import { StargzError } from '../errors.js';
import { LANDMARK_NAMES, TOC_TAR_NAME, type TocEntry } from '../estargz/types.js';
import { cleanPath, compareUtf8 } from './paths.js';
import type { IndexEntry, IndexLayerInput } from './types.js';

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_META_PREFIX = '.wh..wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const IMPLIED_DIR_MODE = 0o755;

/** A path of the view; directories hold their children (a tree, so a subtree goes away in one step). */
interface ViewNode {
  entry: IndexEntry;
  children?: Map<string, ViewNode>;
  /** the TOC entry holding the content (identity decides whether a hardlink can stay a hardlink) */
  source?: TocEntry;
  /** a hardlink's own target path, before resolution */
  linkTarget?: string;
}

/** The view: every visible path, iterated in UTF-8 byte order of the paths. */
export type MergedView = Map<string, IndexEntry>;

/**
 * Applies the layers bottom (first) to top (last) and returns the visible entries sorted by the byte order of
 * their UTF-8 paths. A single layer gives that layer's own view (normalised, markers and whiteouts hidden).
 * Throws `E_TOC_INVALID` when a hardlink names no earlier entry of its layer.
 */
export function mergeLayers(layers: readonly IndexLayerInput[], firstLayerIndex = 0): MergedView {
  const root: ViewNode = { entry: impliedDir('', '', 0), children: new Map() };
  layers.forEach((layer, i) => {
    const layerIndex = firstLayerIndex + i;
    const parsed = parseLayer(layer);
    for (const whiteout of parsed.whiteouts) applyWhiteout(root, whiteout);
    addLayerEntries(root, parsed, layer.digest, layerIndex);
  });
  return flatten(root);
}

interface ParsedItem {
  entry: TocEntry;
  path: string;
  segments: string[];
  /** a whiteout marker: not shown, but its directory exists in this layer */
  marker: boolean;
}

interface Whiteout {
  /** segments of the directory holding the marker */
  dir: string[];
  /** the name deleted, or undefined for an opaque marker */
  name?: string;
}

interface ParsedLayer {
  /** entries to place, in TOC order */
  items: ParsedItem[];
  whiteouts: Whiteout[];
}

function parseLayer(layer: IndexLayerInput): ParsedLayer {
  const items: ParsedItem[] = [];
  const whiteouts: Whiteout[] = [];
  for (const entry of layer.toc.entries) {
    const path = cleanPath(entry.name);
    if (path === '') continue; // the root: not an entry of the view
    const segments = path.split('/');
    if (segments.length === 1 && (LANDMARK_NAMES.has(path) || path === TOC_TAR_NAME)) continue;
    const base = segments[segments.length - 1]!;
    const dir = segments.slice(0, -1);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      if (base === OPAQUE_MARKER) whiteouts.push({ dir });
      else if (!base.startsWith(WHITEOUT_META_PREFIX) && base.length > WHITEOUT_PREFIX.length) {
        whiteouts.push({ dir, name: base.slice(WHITEOUT_PREFIX.length) });
      }
      items.push({ entry, path, segments, marker: true });
      continue;
    }
    if (dir.some((segment) => segment.startsWith(WHITEOUT_PREFIX))) continue; // under a marker name: never visible
    items.push({ entry, path, segments, marker: false });
  }
  return { items, whiteouts };
}

/** Walks to the directory node at `segments`, or undefined when it is missing or not a directory. */
function findDir(root: ViewNode, segments: readonly string[]): ViewNode | undefined {
  let node: ViewNode | undefined = root;
  for (const segment of segments) {
    node = node.children?.get(segment);
    if (!node?.children) return undefined;
  }
  return node;
}

function applyWhiteout(root: ViewNode, whiteout: Whiteout): void {
  const dir = findDir(root, whiteout.dir);
  if (!dir?.children) return;
  if (whiteout.name === undefined) dir.children.clear();
  else dir.children.delete(whiteout.name);
}

function addLayerEntries(root: ViewNode, parsed: ParsedLayer, layerDigest: string, layerIndex: number): void {
  /** entries of this layer seen so far by path, hardlinks already resolved to what they point at */
  const seen = new Map<string, TocEntry>();
  for (const { entry, path, segments, marker } of parsed.items) {
    const parent = ensureDir(root, segments, segments.length - 1, layerDigest, layerIndex);
    if (marker) continue;
    const name = segments[segments.length - 1]!;
    let source = entry;
    let linkTarget: string | undefined;
    if (entry.type === 'hardlink') {
      linkTarget = cleanPath(entry.linkName);
      const target = seen.get(linkTarget);
      if (target === undefined || target.type === 'dir') {
        throw new StargzError(
          'E_TOC_INVALID',
          `layer ${layerDigest}: hardlink ${JSON.stringify(path)} points to ${JSON.stringify(linkTarget)}, ` +
            `which is not an earlier ${target ? 'non-directory ' : ''}entry of the layer`,
          { details: { layer: layerDigest, path, linkName: entry.linkName } },
        );
      }
      source = target;
    }
    seen.set(path, source);
    const viewEntry = toIndexEntry(path, source, layerDigest, layerIndex);
    const existing = parent.children!.get(name);
    if (source.type === 'dir' && existing?.children) {
      existing.entry = viewEntry; // directories merge: new metadata, children stay
      existing.source = source;
      continue;
    }
    const node: ViewNode = { entry: viewEntry, source };
    if (source.type === 'dir') node.children = new Map();
    if (linkTarget !== undefined) node.linkTarget = linkTarget;
    parent.children!.set(name, node);
  }
}

/**
 * Makes sure the first `depth` segments name directories, creating implied ones (and replacing whatever
 * non-directory was there); returns the deepest.
 */
function ensureDir(
  root: ViewNode,
  segments: readonly string[],
  depth: number,
  layerDigest: string,
  layerIndex: number,
): ViewNode {
  let node = root;
  for (let k = 0; k < depth; k++) {
    const segment = segments[k]!;
    let child = node.children!.get(segment);
    if (child?.children === undefined) {
      child = {
        entry: impliedDir(segments.slice(0, k + 1).join('/'), layerDigest, layerIndex),
        children: new Map(),
      };
      node.children!.set(segment, child);
    } else if (child.entry.implied && child.entry.layerIndex !== layerIndex) {
      child.entry = { ...child.entry, layerDigest, layerIndex };
    }
    node = child;
  }
  return node;
}

function impliedDir(path: string, layerDigest: string, layerIndex: number): IndexEntry {
  return {
    path,
    type: 'dir',
    mode: IMPLIED_DIR_MODE,
    uid: 0,
    gid: 0,
    size: 0,
    xattrs: {},
    chunks: [],
    layerDigest,
    layerIndex,
    implied: true,
  };
}

function toIndexEntry(path: string, source: TocEntry, layerDigest: string, layerIndex: number): IndexEntry {
  const type = source.type === 'hardlink' ? 'reg' : source.type;
  const entry: IndexEntry = {
    path,
    type,
    mode: source.mode,
    uid: source.uid,
    gid: source.gid,
    size: type === 'reg' ? source.size : 0,
    xattrs: source.xattrs,
    chunks: type === 'reg' ? source.chunks : [],
    layerDigest,
    layerIndex,
    sourcePath: cleanPath(source.name),
    implied: false,
  };
  if (source.userName !== undefined) entry.userName = source.userName;
  if (source.groupName !== undefined) entry.groupName = source.groupName;
  if (source.modtime !== undefined) entry.modtime = source.modtime;
  if (type === 'reg' && source.digest !== undefined) entry.digest = source.digest;
  if (type === 'symlink') entry.linkName = source.linkName;
  if (type === 'char' || type === 'block') {
    entry.devMajor = source.devMajor;
    entry.devMinor = source.devMinor;
  }
  return entry;
}

/** Collects the visible entries, resolves which hardlinks stay hardlinks, and sorts by UTF-8 byte order. */
function flatten(root: ViewNode): MergedView {
  const nodes: ViewNode[] = [];
  const byPath = new Map<string, ViewNode>();
  const stack: ViewNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node !== root) {
      nodes.push(node);
      byPath.set(node.entry.path, node);
    }
    if (node.children) for (const child of node.children.values()) stack.push(child);
  }
  for (const node of nodes) {
    if (node.linkTarget === undefined) continue;
    const target = byPath.get(node.linkTarget);
    if (target && target.source === node.source && target.entry.layerIndex === node.entry.layerIndex) {
      node.entry.hardlinkOf = node.linkTarget;
    }
  }
  nodes.sort((a, b) => compareUtf8(a.entry.path, b.entry.path));
  const view: MergedView = new Map();
  for (const node of nodes) view.set(node.entry.path, node.entry);
  return view;
}
