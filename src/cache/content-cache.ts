/**
 * A content-addressed cache of eStargz TOCs (by layer digest) and manifests (by manifest digest).
 * Both keys name immutable content, so an entry is valid forever; every load is still checked (the TOC
 * against its TOC digest, the manifest against its digest) and a bad entry is discarded so the caller
 * fetches it again. Tags are never cached: they move, and the caller resolves them with a manifest HEAD.
 *
 * Loads and stores are best-effort: a cache that cannot be read or written is a miss, never a failure of
 * the command (problems go to the logger). `info` and `prune` are explicit user actions and do throw.
 */

import { mkdir, rm, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import {
  type CacheFile,
  type CacheKindInfo,
  cacheIoError,
  entryPath,
  KINDS,
  type Kind,
  LAYOUT,
  listCacheFiles,
  MANIFEST_DIR,
  PLATFORM_DIR,
  platformChoicePath,
  STALE_TEMP_MS,
  summarise,
  TOC_DIR,
} from './_cache-dir.js';
import {
  type CachedManifest,
  manifestEntryBytes,
  manifestFromEntry,
  type PlatformChoice,
  platformChoiceEntryBytes,
  platformChoiceFromEntry,
} from './_manifest-entry.js';
import { type CachedToc, type TocToStore, tocEntryBytes, tocFromEntry } from './_toc-entry.js';
import { matchesDigest, parseDigest } from './digest.js';
import { decodeEntry, MAX_HEADER_BYTES } from './entry-file.js';
import { readFileBounded, writeFileAtomic } from './files.js';

export type { CachedManifest, CachedToc, CacheKindInfo, PlatformChoice, TocToStore };

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
    const loaded = tocFromEntry(entry.header, entry.payload, layerDigest, tocDigest, this.maxTocBytes);
    if ('problem' in loaded) {
      await this.discard(path, loaded.problem);
      this.counters.tocMisses++;
      return undefined;
    }
    this.counters.tocHits++;
    await this.touch(path);
    return loaded.toc;
  }

  /**
   * Stores a layer's TOC, given as JSON or as the TOC gzip member. The TOC must hash to `toc.tocDigest`
   * (a member is decompressed to check it); a TOC over the size cap is not stored. Returns whether the
   * entry was written.
   */
  async putToc(layerDigest: string, toc: TocToStore): Promise<boolean> {
    const path = this.pathFor(TOC_DIR, layerDigest);
    if (path === undefined) return this.refuse('malformed digest');
    const encoded = tocEntryBytes(layerDigest, toc, this.maxTocBytes);
    if ('refused' in encoded) return this.refuse(encoded.refused);
    return this.store(path, encoded.bytes);
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
    const loaded = manifestFromEntry(entry.header, entry.payload, digest);
    if ('problem' in loaded) {
      await this.discard(path, loaded.problem);
      this.counters.manifestMisses++;
      return undefined;
    }
    this.counters.manifestHits++;
    await this.touch(path);
    return loaded.manifest;
  }

  /** Stores a manifest under its digest (the bytes must hash to it). Returns whether it was written. */
  async putManifest(digest: string, bytes: Uint8Array, mediaType?: string): Promise<boolean> {
    const path = this.pathFor(MANIFEST_DIR, digest);
    if (path === undefined) return this.refuse('malformed digest');
    if (bytes.length > this.maxManifestBytes) return this.refuse('manifest over the size cap');
    if (!matchesDigest(bytes, digest)) return this.refuse('manifest bytes do not match their digest');
    return this.store(path, manifestEntryBytes(digest, bytes, mediaType));
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
    const choice = platformChoiceFromEntry(entry.header, entry.payload, indexDigest, platform);
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
    if (path === undefined) return this.refuse('malformed digest');
    const encoded = platformChoiceEntryBytes(indexDigest, platform, choice);
    if ('refused' in encoded) return this.refuse(encoded.refused);
    return this.store(path, encoded.bytes);
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
          throw cacheIoError('could not remove a cache entry', file.path, error);
        }
        if (!file.temp) {
          result.removed++;
          result.bytes += file.size;
        }
      }
    }
    if (options.all === true) {
      await rm(join(this.dir, LAYOUT), { recursive: true, force: true }).catch((error: unknown) => {
        throw cacheIoError('could not remove the cache directory', join(this.dir, LAYOUT), error);
      });
      this.madeDirs.clear();
    }
    return result;
  }

  private platformPath(indexDigest: string, platform: string): string | undefined {
    return platformChoicePath(this.dir, indexDigest, platform);
  }

  private pathFor(kind: Kind, digest: string): string | undefined {
    return entryPath(this.dir, kind, digest);
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
    return listCacheFiles(this.dir, kind);
  }
}
