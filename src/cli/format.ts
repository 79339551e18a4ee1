/** Output formats of `ls` and `info`: plain lines, the long listing, and the --json shapes. Pure functions. */

/** One path of the merged view (or of one layer), as `ls` shows it. */
export interface ListedEntry {
  /** path without a leading '/' */
  path: string;
  type: 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  size: number;
  /** permission bits, including setuid/setgid/sticky */
  mode: number;
  uid?: number;
  gid?: number;
  /** RFC 3339, when the TOC has it */
  mtime?: string;
  /** symlink target as stored, or the hardlink's target path */
  linkName?: string;
  /** digest of the layer the entry comes from (undefined for implied directories) */
  layer?: string;
}

/** `ls` JSON element. */
export interface ListedEntryJson {
  path: string;
  type: ListedEntry['type'];
  size: number;
  mode: string;
  mtime: string | null;
  linkName: string | null;
  layer: string | null;
}

/** One layer as `info` reports it. */
export interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
  estargz: boolean;
  tocDigest: string | null;
  /** 'estargz' | 'legacy' when eStargz */
  footer?: string;
  /** why the layer is not eStargz, when it is not */
  reason?: string;
}

/** `info --json` shape. */
export interface ImageInfo {
  reference: string;
  digest: string;
  mediaType: string;
  platform: string | null;
  layers: LayerInfo[];
}

/** Octal permission bits with four digits: 0755, 4755. */
export function formatOctalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

const TYPE_CHAR: Record<ListedEntry['type'], string> = {
  dir: 'd',
  reg: '-',
  symlink: 'l',
  hardlink: 'h',
  char: 'c',
  block: 'b',
  fifo: 'p',
};

/** `ls -l` style mode: `drwxr-xr-x`, `-rwsr-xr-x`, `drwxrwxrwt`; hardlinks show `h`. */
export function formatModeString(type: ListedEntry['type'], mode: number): string {
  const bit = (mask: number, ch: string): string => (mode & mask ? ch : '-');
  const special = (exec: number, flag: number, set: string, unset: string): string => {
    if (mode & flag) return mode & exec ? set : unset;
    return mode & exec ? 'x' : '-';
  };
  return (
    TYPE_CHAR[type] +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's', 'S') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's', 'S') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't', 'T')
  );
}

/** The path as `ls` prints it: no leading '/', directories end with '/'. */
export function displayPath(entry: Pick<ListedEntry, 'path' | 'type'>): string {
  const path = entry.path.replace(/^\/+/, '');
  return entry.type === 'dir' ? `${path}/` : path;
}

/** Plain `ls`: one path per line. */
export function formatList(entries: readonly ListedEntry[]): string {
  return entries.map((e) => `${displayPath(e)}\n`).join('');
}

/** `ls -l`: mode, owner, size, mtime, path, and `-> target` (symlink) or `link to target` (hardlink). */
export function formatLongList(entries: readonly ListedEntry[]): string {
  const owners = entries.map((e) => `${e.uid ?? 0}/${e.gid ?? 0}`);
  const sizes = entries.map((e) => (e.type === 'reg' || e.type === 'hardlink' ? String(e.size) : '-'));
  const ownerWidth = Math.max(0, ...owners.map((o) => o.length));
  const sizeWidth = Math.max(0, ...sizes.map((s) => s.length));
  return entries
    .map((e, i) => {
      const mtime = e.mtime ?? '-'.padEnd(20);
      let line = `${formatModeString(e.type, e.mode)} ${owners[i]!.padEnd(ownerWidth)} ${sizes[i]!.padStart(sizeWidth)} ${mtime} ${displayPath(e)}`;
      if (e.type === 'symlink') line += ` -> ${e.linkName ?? ''}`;
      if (e.type === 'hardlink') line += ` link to ${e.linkName ?? ''}`;
      return `${line}\n`;
    })
    .join('');
}

/** `ls --json` element for one entry. */
export function toListedEntryJson(entry: ListedEntry): ListedEntryJson {
  return {
    path: entry.path.replace(/^\/+/, ''),
    type: entry.type,
    size: entry.size,
    mode: formatOctalMode(entry.mode),
    mtime: entry.mtime ?? null,
    linkName: entry.type === 'symlink' || entry.type === 'hardlink' ? (entry.linkName ?? '') : null,
    layer: entry.layer ?? null,
  };
}

/** `ls --json`: a JSON array, one line. */
export function formatListJson(entries: readonly ListedEntry[]): string {
  return `${JSON.stringify(entries.map(toListedEntryJson))}\n`;
}

/** `info`: a header and one row per layer. */
export function formatInfo(info: ImageInfo): string {
  const lines = [
    `Reference:  ${info.reference}`,
    `Digest:     ${info.digest}`,
    `Media type: ${info.mediaType}`,
    `Platform:   ${info.platform ?? '-'}`,
    `Layers:     ${info.layers.length}`,
  ];
  const rows = info.layers.map((layer, i) => [
    String(i + 1),
    layer.digest,
    String(layer.size),
    layer.estargz ? (layer.footer === 'legacy' ? 'legacy' : 'yes') : 'no',
    layer.tocDigest ?? '-',
    layer.mediaType,
  ]);
  const header = ['#', 'DIGEST', 'SIZE', 'ESTARGZ', 'TOC DIGEST', 'MEDIA TYPE'];
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
  const render = (cells: string[]): string =>
    `  ${cells
      .map((c, col) => (col === 2 ? c.padStart(widths[col]!) : c.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd()}`;
  lines.push('', render(header), ...rows.map(render));
  return `${lines.join('\n')}\n`;
}

/** `info --json`: one line. */
export function formatInfoJson(info: ImageInfo): string {
  return `${JSON.stringify(info)}\n`;
}

/** Human-friendly byte count: 512 B, 1.5 KiB, 12.3 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
