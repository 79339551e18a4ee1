/**
 * A content-addressed cache of eStargz TOCs (by layer digest) and manifests (by manifest digest).
 * Both keys name immutable content, so an entry is valid forever; every load is still checked (the TOC
 * against its TOC digest, the manifest against its digest) and a bad entry is discarded so the caller
 * fetches it again. Tags are never cached: they move, and the caller resolves them with a manifest HEAD.
 *
 * Loads and stores are best-effort: a cache that cannot be read or written is a miss, never a failure of
 * the command (problems go to the logger). `info` and `prune` are explicit user actions and do throw.
 */

import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import type { Footer } from '../estargz/types.js';
import { type Logger, silentLogger } from '../log.js';
import type { Platform } from '../registry/types.js';
import { matchesDigest, parseDigest } from './digest.js';
import { decodeEntry, encodeEntry, MAX_HEADER_BYTES } from './entry-file.js';
import { readFileBounded, TEMP_MARKER, writeFileAtomic } from './files.js';
import { tocJsonFromMember } from './toc-member.js';

/** Layout version: a new on-disk format gets a new directory, so old and new starget never mix entries. */
const LAYOUT = 'v1';
const TOC_DIR = 'toc';
const MANIFEST_DIR = 'manifest';
const PLATFORM_DIR = 'platform';
/** Temp files older than this belong to a process that died mid-write. */
const STALE_TEMP_MS = 60 * 60 * 1000;

export const DEFAULT_MAX_TOC_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ContentCacheOptions {
  /** the cache directory (see `defaultCacheDir`); created on first write */
  dir: string;
  /** largest TOC JSON stored or loaded, in bytes (default 64 MiB) */
  maxTocBytes?: number;
  /** largest manifest stored or loaded, in bytes (default 4 MiB) */
  maxManifestBytes?: number;
  logger?: Logger;
}

/** A layer's TOC as cached: enough to read the layer's files without fetching its tail again. */
export interface CachedToc {
  /** the uncompressed TOC JSON (`stargz.index.json`), exactly as in the layer */
  tocJson: Uint8Array;
  /** sha256 of `tocJson`, `sha256:<hex>` */
  tocDigest: string;
  /** the layer's footer (its `tocOffset` bounds the last entry's compressed extent) */
  footer: Footer;
  /** bytes of the whole layer blob */
  blobSize: number;
}

/**
 * A TOC to store: the TOC JSON, or the TOC gzip member (bytes [tocOffset, blobSize - footer.size) of the
 * layer, which is what a tail read yields; stored as given, about 8x smaller than the JSON).
 */
export type TocToStore = Omit<CachedToc, 'tocJson'> &
  ({ tocJson: Uint8Array } | { tocMember: Uint8Array }) & {
    /**
     * The caller computed `tocDigest` from exactly these bytes (e.g. it just parsed this member): the
     * store skips decompressing them again. Loads still verify everything.
     */
    verified?: boolean;
  };

export interface CachedManifest {
  bytes: Uint8Array;
  mediaType?: string;
}

/** The image manifest an index lists for a platform (see `getPlatformChoice`). */
export interface PlatformChoice {
  /** digest of the image manifest */
  digest: string;
  /** the platform of the index entry, as the index gives it */
  platform?: Platform;
}

/** Counters of this instance's cache traffic, for `--debug` and the benchmark. */
export interface CacheStats {
  tocHits: number;
  tocMisses: number;
  manifestHits: number;
  manifestMisses: number;
  /** entries found but rejected (corrupt, wrong digest, foreign) and removed */
  discarded: number;
  /** entries found but over the size caps, left alone */
  oversized: number;
  writes: number;
  writeFailures: number;
}

export interface CacheKindInfo {
  entries: number;
  bytes: number;
}

export interface CacheInfo {
  dir: string;
  entries: number;
  bytes: number;
  tocs: CacheKindInfo;
  manifests: CacheKindInfo;
  /** platform choices of indexes (tiny) */
  platforms: CacheKindInfo;
}

export interface PruneOptions {
  /** remove entries not used (loaded or stored) for this many milliseconds */
  olderThan?: number;
  /** remove every entry */
  all?: boolean;
  /** the clock, for tests (default Date.now()) */
  now?: number;
}

export interface PruneResult {
  removed: number;
  bytes: number;
}

type Kind = typeof TOC_DIR | typeof MANIFEST_DIR | typeof PLATFORM_DIR;
const KINDS = [TOC_DIR, MANIFEST_DIR, PLATFORM_DIR] as const;

export class ContentCache {
  readonly dir: string;
  private readonly maxTocBytes: number;
  private readonly maxManifestBytes: number;
  private readonly logger: Logger;
  private readonly madeDirs = new Set<string>();
  private readonly inFlight = new Set<Promise<boolean>>();
  private readonly counters: CacheStats = {
    tocHits: 0,
    tocMisses: 0,
    manifestHits: 0,
    manifestMisses: 0,
    discarded: 0,
    oversized: 0,
    writes: 0,
    writeFailures: 0,
  };

  constructor(options: ContentCacheOptions) {
    this.dir = options.dir;
    this.maxTocBytes = options.maxTocBytes ?? DEFAULT_MAX_TOC_BYTES;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * The cached TOC of a layer, or undefined on a miss. With `tocDigest` (the manifest's TOC digest
   * annotation), an entry whose TOC hashes to anything else is discarded; without it, the entry must
   * still hash to the digest recorded when it was stored.
   */
  async getToc(layerDigest: string, tocDigest?: string): Promise<CachedToc | undefined> {
    const path = this.pathFor(TOC_DIR, layerDigest);
    if (path === undefined || (tocDigest !== undefined && parseDigest(tocDigest) === undefined)) {
      this.counters.tocMisses++;
      return undefined;
    }
    const entry = await this.load(path, this.maxTocBytes);
    if (entry === undefined) {
      this.counters.tocMisses++;
      return undefined;
    }
    const { header, payload } = entry;
    const tocJson =
      header.kind === 'toc' && header.payload === 'gzip-member'
        ? tocJsonFromMember(payload, this.maxTocBytes)
        : payload;
    const problem =
      header.kind !== 'toc'
        ? 'not a TOC entry'
        : header.layerDigest !== layerDigest
          ? 'entry belongs to another layer'
          : tocDigest !== undefined && header.tocDigest !== tocDigest
            ? 'TOC digest differs from the manifest annotation'
            : tocJson === undefined
              ? 'TOC member does not hold a TOC within the size cap'
              : !matchesDigest(tocJson, header.tocDigest)
                ? 'TOC bytes do not match their digest'
                : undefined;
    if (problem !== undefined || header.kind !== 'toc' || tocJson === undefined) {
      await this.discard(path, problem ?? 'not a TOC entry');
      this.counters.tocMisses++;
      return undefined;
    }
    this.counters.tocHits++;
    await this.touch(path);
    return { tocJson, tocDigest: header.tocDigest, footer: { ...header.footer }, blobSize: header.blobSize };
  }

  /**
   * Stores a layer's TOC, given as JSON or as the TOC gzip member. The TOC must hash to `toc.tocDigest`
   * (a member is decompressed to check it); a TOC over the size cap is not stored. Returns whether the
   * entry was written.
   */
  async putToc(layerDigest: string, toc: TocToStore): Promise<boolean> {
    const path = this.pathFor(TOC_DIR, layerDigest);
    if (path === undefined || parseDigest(toc.tocDigest) === undefined)
      return this.refuse('malformed digest');
    const form = 'tocMember' in toc ? 'gzip-member' : 'json';
    const payload = 'tocMember' in toc ? toc.tocMember : toc.tocJson;
    if (payload.length > this.maxTocBytes) return this.refuse('TOC over the size cap');
    if (toc.verified === true && 'tocMember' in toc) {
      // the gzip trailer's ISIZE: the tar's size (mod 2^32), so a TOC over the cap is not stored only to be refused at load
      const member = toc.tocMember;
      const isize =
        member.length < 18
          ? Number.POSITIVE_INFINITY
          : new DataView(member.buffer, member.byteOffset, member.length).getUint32(member.length - 4, true);
      if (isize > this.maxTocBytes + 64 * 1024) return this.refuse('TOC over the size cap');
    } else {
      const tocJson = 'tocMember' in toc ? tocJsonFromMember(toc.tocMember, this.maxTocBytes) : toc.tocJson;
      if (tocJson === undefined) return this.refuse('TOC member does not hold a TOC within the size cap');
      if (!matchesDigest(tocJson, toc.tocDigest)) return this.refuse('TOC bytes do not match their digest');
    }
    const header = {
      format: 'starget-cache/1',
      kind: 'toc',
      layerDigest,
      tocDigest: toc.tocDigest,
      footer: { kind: toc.footer.kind, size: toc.footer.size, tocOffset: toc.footer.tocOffset },
      blobSize: toc.blobSize,
      payload: form,
      payloadBytes: payload.length,
    } as const;
    return this.store(path, encodeEntry(header, payload));
  }

  /** Like `putToc`, without waiting: the store runs while the caller goes on (see `flush`). */
  putTocInBackground(layerDigest: string, toc: TocToStore): void {
    this.inBackground(this.putToc(layerDigest, toc));
  }

  /** Waits for the stores started in the background. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** The cached manifest with this digest, or undefined on a miss (bytes verified against the digest). */
  async getManifest(digest: string): Promise<CachedManifest | undefined> {
    const path = this.pathFor(MANIFEST_DIR, digest);
    if (path === undefined) {
      this.counters.manifestMisses++;
      return undefined;
    }
    const entry = await this.load(path, this.maxManifestBytes);
    if (entry === undefined) {
      this.counters.manifestMisses++;
      return undefined;
    }
    const { header, payload } = entry;
    const problem =
      header.kind !== 'manifest' || header.digest !== digest
        ? 'entry belongs to another manifest'
        : !matchesDigest(payload, digest)
          ? 'manifest bytes do not match their digest'
          : undefined;
    if (problem !== undefined || header.kind !== 'manifest') {
      await this.discard(path, problem ?? 'not a manifest entry');
      this.counters.manifestMisses++;
      return undefined;
    }
    this.counters.manifestHits++;
    await this.touch(path);
    return header.mediaType === undefined
      ? { bytes: payload }
      : { bytes: payload, mediaType: header.mediaType };
  }

  /** Stores a manifest under its digest (the bytes must hash to it). Returns whether it was written. */
  async putManifest(digest: string, bytes: Uint8Array, mediaType?: string): Promise<boolean> {
    const path = this.pathFor(MANIFEST_DIR, digest);
    if (path === undefined) return this.refuse('malformed digest');
    if (bytes.length > this.maxManifestBytes) return this.refuse('manifest over the size cap');
    if (!matchesDigest(bytes, digest)) return this.refuse('manifest bytes do not match their digest');
    const header =
      mediaType === undefined
        ? ({ format: 'starget-cache/1', kind: 'manifest', digest, payloadBytes: bytes.length } as const)
        : ({
            format: 'starget-cache/1',
            kind: 'manifest',
            digest,
            mediaType,
            payloadBytes: bytes.length,
          } as const);
    return this.store(path, encodeEntry(header, bytes));
  }

  /**
   * The image manifest the index `indexDigest` lists for `platform` (`os/arch[/variant]`), as recorded by
   * `putPlatformChoice`, or undefined. The manifest itself is then loaded (and verified) by its digest.
   */
  async getPlatformChoice(indexDigest: string, platform: string): Promise<PlatformChoice | undefined> {
    const path = this.platformPath(indexDigest, platform);
    if (path === undefined) return undefined;
    const entry = await this.load(path, MAX_HEADER_BYTES);
    if (entry === undefined) return undefined;
    const { header, payload } = entry;
    let choice: PlatformChoice | undefined;
    if (header.kind === 'platform' && header.indexDigest === indexDigest && header.platform === platform) {
      choice = parseChoice(payload);
    }
    if (choice === undefined) {
      await this.discard(path, 'not a platform choice of this index');
      return undefined;
    }
    await this.touch(path);
    return choice;
  }

  /** Records which image manifest the index `indexDigest` lists for `platform`. */
  async putPlatformChoice(indexDigest: string, platform: string, choice: PlatformChoice): Promise<boolean> {
    const path = this.platformPath(indexDigest, platform);
    if (path === undefined || parseDigest(choice.digest) === undefined)
      return this.refuse('malformed digest');
    const payload = Buffer.from(JSON.stringify(choice), 'utf8');
    if (payload.length > MAX_HEADER_BYTES) return this.refuse('platform choice too long');
    const header = {
      format: 'starget-cache/1',
      kind: 'platform',
      indexDigest,
      platform,
      payloadBytes: payload.length,
    } as const;
    return this.store(path, encodeEntry(header, payload));
  }

  /** Runs a store in the background (see `flush`); its failure is logged, never thrown. */
  inBackground(store: Promise<boolean>): void {
    const tracked = store.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** A copy of this instance's counters. */
  stats(): CacheStats {
    return { ...this.counters };
  }

  /** Counts the entries and bytes on disk (temp files of writes in progress are not counted). */
  async info(): Promise<CacheInfo> {
    const tocs = summarise(await this.listEntries(TOC_DIR));
    const manifests = summarise(await this.listEntries(MANIFEST_DIR));
    const platforms = summarise(await this.listEntries(PLATFORM_DIR));
    return {
      dir: this.dir,
      entries: tocs.entries + manifests.entries + platforms.entries,
      bytes: tocs.bytes + manifests.bytes + platforms.bytes,
      tocs,
      manifests,
      platforms,
    };
  }

  /**
   * Removes entries: all of them with `all`, those unused for `olderThan` ms otherwise. Temp files left by
   * a process that died mid-write are removed too (all of them with `all`, else those over an hour old).
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const now = options.now ?? Date.now();
    if (options.olderThan !== undefined && !(options.olderThan >= 0)) {
      throw new StargzError('E_USAGE', `prune age must be a non-negative number of milliseconds`, {
        details: { olderThan: options.olderThan },
      });
    }
    const result: PruneResult = { removed: 0, bytes: 0 };
    for (const kind of KINDS) {
      for (const file of await this.listFiles(kind)) {
        const age = now - file.mtimeMs;
        const remove = file.temp
          ? options.all === true || age > STALE_TEMP_MS
          : options.all === true || (options.olderThan !== undefined && age >= options.olderThan);
        if (!remove) continue;
        try {
          await unlink(file.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw ioError('could not remove a cache entry', file.path, error);
        }
        if (!file.temp) {
          result.removed++;
          result.bytes += file.size;
        }
      }
    }
    if (options.all === true) {
      await rm(join(this.dir, LAYOUT), { recursive: true, force: true }).catch((error: unknown) => {
        throw ioError('could not remove the cache directory', join(this.dir, LAYOUT), error);
      });
      this.madeDirs.clear();
    }
    return result;
  }

  private platformPath(indexDigest: string, platform: string): string | undefined {
    const parsed = parseDigest(indexDigest);
    if (parsed === undefined || !/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*){1,2}$/i.test(platform))
      return undefined;
    const key = createHash('sha256').update(`${indexDigest}\n${platform}`).digest('hex');
    return join(this.dir, LAYOUT, PLATFORM_DIR, parsed.algorithm, key);
  }

  private pathFor(kind: Kind, digest: string): string | undefined {
    const parsed = parseDigest(digest);
    if (parsed === undefined) return undefined;
    return join(this.dir, LAYOUT, kind, parsed.algorithm, parsed.hex);
  }

  private async load(path: string, maxPayload: number) {
    let read: Awaited<ReturnType<typeof readFileBounded>>;
    try {
      read = await readFileBounded(path, maxPayload + MAX_HEADER_BYTES);
    } catch (error) {
      this.logger.warn('cache: could not read an entry', { path, error: String(error) });
      return undefined;
    }
    if (read.kind === 'missing') return undefined;
    if (read.kind === 'too-big') {
      this.counters.oversized++;
      this.logger.debug('cache: entry over the size cap, not loaded', { path, size: read.size });
      return undefined;
    }
    const decoded = decodeEntry(read.bytes);
    if (!decoded.ok) {
      await this.discard(path, decoded.reason);
      return undefined;
    }
    if (decoded.payload.length > maxPayload) {
      this.counters.oversized++;
      this.logger.debug('cache: entry over the size cap, not used', { path, size: decoded.payload.length });
      return undefined;
    }
    return decoded;
  }

  private async discard(path: string, reason: string): Promise<void> {
    this.counters.discarded++;
    this.logger.warn('cache: discarding a bad entry', { path, reason });
    await unlink(path).catch(() => {});
  }

  /** Marks an entry as used now, so `prune({olderThan})` keeps what is in use. */
  private async touch(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
  }

  private refuse(reason: string): false {
    this.counters.writeFailures++;
    this.logger.debug('cache: entry not stored', { reason });
    return false;
  }

  private async store(path: string, bytes: Uint8Array): Promise<boolean> {
    const dir = join(path, '..');
    try {
      if (!this.madeDirs.has(dir)) {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        this.madeDirs.add(dir);
      }
      await writeFileAtomic(path, bytes);
      this.counters.writes++;
      return true;
    } catch (error) {
      this.counters.writeFailures++;
      this.logger.warn('cache: could not store an entry', { path, error: String(error) });
      return false;
    }
  }

  private async listEntries(kind: Kind): Promise<CacheFile[]> {
    return (await this.listFiles(kind)).filter((file) => !file.temp);
  }

  private async listFiles(kind: Kind): Promise<CacheFile[]> {
    const root = join(this.dir, LAYOUT, kind);
    const files: CacheFile[] = [];
    for (const algorithm of await readDirIfAny(root)) {
      const dir = join(root, algorithm);
      for (const name of await readDirIfAny(dir)) {
        const path = join(dir, name);
        try {
          const st = await stat(path);
          if (!st.isFile()) continue;
          files.push({ path, size: st.size, mtimeMs: st.mtimeMs, temp: name.includes(TEMP_MARKER) });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw ioError('could not read the cache', path, error);
        }
      }
    }
    return files;
  }
}

interface CacheFile {
  path: string;
  size: number;
  mtimeMs: number;
  temp: boolean;
}

function parseChoice(payload: Uint8Array): PlatformChoice | undefined {
  try {
    const value = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    if (typeof value['digest'] !== 'string' || parseDigest(value['digest']) === undefined) return undefined;
    const platform = value['platform'] as Record<string, unknown> | undefined;
    if (platform === undefined) return { digest: value['digest'] };
    if (typeof platform['os'] !== 'string' || typeof platform['architecture'] !== 'string') return undefined;
    return { digest: value['digest'], platform: platform as unknown as Platform };
  } catch {
    return undefined;
  }
}

function summarise(files: CacheFile[]): CacheKindInfo {
  return { entries: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0) };
}

async function readDirIfAny(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw ioError('could not read the cache', dir, error);
  }
}

function ioError(what: string, path: string, cause: unknown): StargzError {
  return new StargzError('E_IO', `${what} at ${path}: check its permissions or remove it`, {
    cause,
    details: { path },
  });
}
