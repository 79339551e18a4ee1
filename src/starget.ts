/**
 * The library facade: open an image by reference, then list, inspect, extract or stream its files.
 * It wires the registry client, the eStargz layer reader, the image index and the downloader together.
 * It never prints: pass a `logger`, and an `onEvent` for progress.
 */

import type { Writable } from 'node:stream';
import { ContentCache } from './cache/content-cache.js';
import { HeldBytes } from './cache/held-bytes.js';
import { resolveImageThroughCache } from './cache/resolve-image.js';
import { type CatResult, catFile } from './download/cat.js';
import { Downloader } from './download/downloader.js';
import { StargzError, toStargzError } from './errors.js';
import { readConfigPlatform } from './facade/config-platform.js';
import { type OutputLayout, planTotals, targetLayout } from './facade/get-plan.js';
import { indexInputsOf, openLayerStatus } from './facade/layer-status.js';
import { resolveLayer, TOC_DIGEST_ANNOTATION, toImageLayers } from './facade/layers.js';
import { dereferenceEntries } from './image/dereference.js';
import { ImageIndex } from './image/image-index.js';
import { compilePattern } from './image/patterns.js';
import type { IndexEntry, IndexLayerInput } from './image/types.js';
import { type Logger, silentLogger } from './log.js';
import { RegistryClient, type RegistryClientStats } from './registry/client.js';
import { formatPlatform, parsePlatform, platformMatches } from './registry/platform.js';
import { formatReference, parseReference } from './registry/reference.js';
import type { BlobSource, Descriptor, ImageReference, Platform } from './registry/types.js';
import type {
  GetEvent,
  GetHandle,
  GetOptions,
  GetResult,
  ImageInfo,
  ImageLayer,
  LayerStatus,
  OpenImageOptions,
} from './starget-types.js';
import { tocSubset } from './toc-subset.js';

export type {
  GetEvent,
  GetHandle,
  GetOptions,
  GetResult,
  ImageInfo,
  ImageLayer,
  LayerStatus,
  OpenImageOptions,
};
/** `resolveLayer` names a layer; the TOC digest annotation is `TOC_DIGEST_ANNOTATION`. */
export { resolveLayer, TOC_DIGEST_ANNOTATION };

/** Parses `os/arch[/variant]` or passes a Platform through. */
function toPlatform(platform: string | Platform | undefined): Platform | undefined {
  if (platform === undefined) return undefined;
  return typeof platform === 'string' ? parsePlatform(platform) : platform;
}

/** An opened image: its manifest is resolved; layers are opened on first use, in parallel. */
export class StargetImage {
  /** the reference as parsed (defaults filled in) */
  readonly reference: ImageReference;
  /** digest of the image manifest (the platform's, for a multi-platform image) */
  readonly digest: string;
  readonly mediaType: string;
  /** the platform chosen from an index, when the reference named one */
  readonly platform?: Platform;
  /** digest of the index, when the reference named one */
  readonly indexDigest?: string;
  /** the layers, bottom first */
  readonly layers: readonly ImageLayer[];
  /** the image config descriptor */
  readonly config: Descriptor;
  /** the layer the image is restricted to (`layer` option) */
  readonly selectedLayer?: ImageLayer;
  /** the registry client in use */
  readonly client: RegistryClient;
  /** the TOC and manifest cache in use, if any */
  readonly cache?: ContentCache;

  readonly #ownsClient: boolean;
  readonly #logger: Logger;
  readonly #options: OpenImageOptions;
  #statuses?: Promise<LayerStatus[]>;
  #index?: Promise<ImageIndex>;
  #configPlatform?: Promise<Platform | undefined>;
  readonly #held: HeldBytes;

  /** @internal use openImage() */
  constructor(init: {
    reference: ImageReference;
    digest: string;
    mediaType: string;
    platform?: Platform;
    indexDigest?: string;
    layers: Descriptor[];
    config: Descriptor;
    client: RegistryClient;
    ownsClient: boolean;
    options: OpenImageOptions;
    cache?: ContentCache;
  }) {
    this.reference = init.reference;
    this.digest = init.digest;
    this.mediaType = init.mediaType;
    if (init.platform) this.platform = init.platform;
    if (init.indexDigest) this.indexDigest = init.indexDigest;
    this.config = init.config;
    this.layers = toImageLayers(init.layers);
    this.client = init.client;
    if (init.cache) this.cache = init.cache;
    this.#held = new HeldBytes(init.options.holdTailBytes);
    this.#ownsClient = init.ownsClient;
    this.#options = init.options;
    this.#logger = init.options.logger ?? silentLogger;
    if (init.options.layer !== undefined) this.selectedLayer = resolveLayer(this.layers, init.options.layer);
  }

  /** `registry/repository[:tag][@digest]` */
  get name(): string {
    return formatReference(this.reference);
  }

  /** The layers in use: the selected one, or all. */
  get usedLayers(): readonly ImageLayer[] {
    return this.selectedLayer ? [this.selectedLayer] : this.layers;
  }

  /**
   * Opens the layers in use in parallel (footer and TOC, TOC digest checked against the annotation).
   * A layer without an eStargz footer is reported, not thrown; any other failure rejects.
   */
  layerStatuses(): Promise<LayerStatus[]> {
    this.#statuses ??= Promise.all(this.usedLayers.map((layer) => this.#openOne(layer)));
    return this.#statuses;
  }

  /** The layer's blob, reads inside held tail bytes answered from memory. */
  #source(layer: ImageLayer): BlobSource {
    return this.#held.wrap(this.client.blob(this.reference, layer.descriptor));
  }

  async #openOne(layer: ImageLayer): Promise<LayerStatus> {
    return openLayerStatus(
      {
        client: this.client,
        reference: this.reference,
        options: this.#options,
        held: this.#held,
        cache: this.cache,
        logger: this.#logger,
      },
      layer,
    );
  }

  /**
   * The merged view of the layers in use (or of the selected layer alone). Rejects with E_NOT_ESTARGZ
   * naming the first layer that is not eStargz.
   */
  index(): Promise<ImageIndex> {
    this.#index ??= this.#indexInputs().then((inputs) => new ImageIndex(inputs));
    return this.#index;
  }

  /**
   * A view that answers for `patterns` exactly as `index()` does. When they all name paths (no globs, not
   * everything), it is built from the few TOC entries that decide those paths (see tocSubset) rather than
   * by merging every entry of every layer.
   */
  async #viewFor(patterns: readonly string[]): Promise<ImageIndex> {
    if (this.#index !== undefined || patterns.length === 0) return this.index();
    const compiled = patterns.map((pattern) => compilePattern(pattern));
    if (compiled.some((pattern) => !pattern.isLiteral || pattern.matchAll)) return this.index();
    const subset = tocSubset(
      await this.#indexInputs(),
      compiled.map((pattern) => pattern.path),
    );
    return subset === undefined ? this.index() : new ImageIndex(subset);
  }

  /** The TOCs of the layers in use; E_NOT_ESTARGZ naming the first layer that is not eStargz. */
  #indexInputs(): Promise<IndexLayerInput[]> {
    return this.layerStatuses().then((statuses) => indexInputsOf(statuses, this.name));
  }

  /**
   * The image's platform: from the index entry when the reference named an index, else from the image
   * config (fetched once and checked against its digest).
   */
  async imagePlatform(): Promise<Platform | undefined> {
    if (this.platform) return this.platform;
    this.#configPlatform ??= readConfigPlatform(
      this.client,
      this.reference,
      this.config,
      this.name,
      this.#options.signal,
    );
    return this.#configPlatform;
  }

  /** The manifest and every layer in use: eStargz or not, TOC digest. */
  async info(): Promise<ImageInfo> {
    const [statuses, platform] = await Promise.all([this.layerStatuses(), this.imagePlatform()]);
    return {
      reference: this.name,
      digest: this.digest,
      mediaType: this.mediaType,
      platform: platform ? formatPlatform(platform) : null,
      layers: statuses.map((s) => ({
        digest: s.layer.digest,
        size: s.layer.size,
        mediaType: s.layer.mediaType,
        estargz: s.estargz,
        tocDigest: s.estargz ? s.toc.tocDigest : null,
        ...(s.estargz ? { footer: s.toc.footer.kind } : { reason: s.error.message }),
      })),
    };
  }

  /** The entries the patterns select (all entries without patterns), sorted by path. */
  async list(patterns?: string | readonly string[]): Promise<IndexEntry[]> {
    if (patterns === undefined || (Array.isArray(patterns) && patterns.length === 0)) {
      return [...(await this.index()).entries()];
    }
    const list = typeof patterns === 'string' ? [patterns] : patterns;
    return (await this.#viewFor(list)).filterFiles(list);
  }

  /**
   * Extracts what the patterns select under `destination` (see GetOptions.layout). Nothing is written
   * outside it; files appear under their final names only when complete and verified.
   */
  get(patterns: string | readonly string[], destination: string, options: GetOptions = {}): GetHandle {
    const controller = new AbortController();
    const outer = options.signal;
    const forward = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) forward();
    outer?.addEventListener('abort', forward, { once: true });
    const done = this.#get(
      typeof patterns === 'string' ? [patterns] : [...patterns],
      destination,
      options,
      controller.signal,
    ).finally(() => outer?.removeEventListener('abort', forward));
    return { done, cancel: (reason) => controller.abort(reason) };
  }

  async #get(
    patterns: string[],
    destination: string,
    options: GetOptions,
    signal: AbortSignal,
  ): Promise<GetResult> {
    const index = await this.#viewFor(patterns);
    const selected = index.filterFiles(patterns);
    const entries = options.dereference ? dereferenceEntries(index, selected) : selected;
    const { outDir, outputPathOf }: OutputLayout =
      options.layout === 'target'
        ? await targetLayout(patterns, entries, destination)
        : { outDir: destination };
    const { files, bytes } = planTotals(entries);
    options.onEvent?.({ type: 'plan', files, bytes, entries: entries.length });
    this.#logger.info('extracting', { patterns, entries: entries.length, files, bytes, outDir });
    const downloader = new Downloader({
      sources: (digest) => {
        const layer = this.layers.find((l) => l.digest === digest);
        return layer ? this.#source(layer) : undefined;
      },
      logger: this.#logger,
    });
    const handle = downloader.startDownload({
      entries,
      outDir,
      ...(outputPathOf ? { outputPathOf } : {}),
      options: {
        signal,
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.skipVerify ? { skipVerify: true } : {}),
        ...(options.preserveOwner ? { preserveOwner: true } : {}),
        ...(options.resume === false ? { resume: false } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      },
    });
    const result = await handle.done.finally(() => this.#releaseHeld());
    for (const layer of result.wholeBlobLayers) {
      this.#logger.info('the registry ignored Range: the whole layer was streamed once', { layer });
    }
    return { ...result, entries, outDir };
  }

  /**
   * Streams one regular file to `output` (not ended). Chunk digests are checked before their bytes go out;
   * the whole-file digest only at the end.
   */
  async cat(
    path: string,
    output: Writable,
    options: { skipVerify?: boolean; signal?: AbortSignal } = {},
  ): Promise<CatResult> {
    const index = await this.#viewFor([path]);
    // like cat(1), symlinks are followed (inside the image): etc/os-release -> ../usr/lib/os-release
    const resolved = index.resolvePath(path, undefined, { followFinal: true });
    const entry = resolved ? index.stat(resolved) : undefined;
    if (entry === undefined) {
      const link = index.stat(path);
      if (link?.type === 'symlink') {
        throw new StargzError(
          'E_NOT_FOUND',
          `${link.path} is a symlink to ${link.linkName}, which is not in the image`,
          { details: { path: link.path, linkName: link.linkName } },
        );
      }
      index.findFile(path); // throws E_NOT_FOUND naming the path
    }
    if (entry === undefined || entry.type !== 'reg') {
      throw new StargzError(
        entry?.type === 'dir' ? 'E_USAGE' : 'E_UNSUPPORTED',
        `${path} is a ${entry?.type === 'dir' ? 'directory' : entry?.type}, not a regular file: cat writes regular files only`,
        { details: { path, type: entry?.type } },
      );
    }
    const layer = this.layers.find((l) => l.digest === entry.layerDigest)!;
    const signal = options.signal ?? this.#options.signal;
    return catFile(entry, new Map([[layer.digest, this.#source(layer)]]), output, {
      ...(options.skipVerify ? { skipVerify: true } : {}),
      ...(signal ? { signal } : {}),
    }).finally(() => this.#releaseHeld());
  }

  #releaseHeld(): void {
    const { served, bytesServed } = this.#held.stats();
    if (served > 0) this.#logger.debug('reads served from layer tails already read', { served, bytesServed });
    this.#held.release();
  }

  /** Requests, retries, bytes received and token fetches so far. */
  stats(): RegistryClientStats {
    return this.client.stats();
  }

  /** Waits for cache stores, then closes the registry connections (unless the client was passed in). */
  async close(): Promise<void> {
    this.#held.release();
    try {
      if (this.cache) {
        await this.cache.flush();
        this.#logger.debug('cache', { dir: this.cache.dir, ...this.cache.stats() });
      }
    } finally {
      if (this.#ownsClient) await this.client.close();
    }
  }
}

/**
 * Resolves a reference (`alpine`, `ghcr.io/org/app:tag`, `localhost:5000/app@sha256:…`) to one image:
 * its manifest is fetched (an index resolved by platform) and verified. Layers are opened later, on use.
 */
export async function openImage(
  reference: string | ImageReference,
  options: OpenImageOptions = {},
): Promise<StargetImage> {
  const parsed = typeof reference === 'string' ? parseReference(reference) : reference;
  const platform = toPlatform(options.platform);
  const ownsClient = options.client === undefined;
  const client =
    options.client ??
    new RegistryClient({
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.plainHttp !== undefined ? { plainHttp: options.plainHttp } : {}),
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.proxy ? { proxy: options.proxy } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(platform ? { platform } : {}),
    });
  const cache = openCache(options);
  try {
    const resolved = cache
      ? await resolveImageThroughCache(client, cache, parsed, {
          platform: platform ?? client.platform,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
        })
      : await client.getManifest(parsed, {
          ...(platform ? { platform } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
    const image = new StargetImage({
      reference: parsed,
      digest: resolved.digest,
      mediaType: resolved.mediaType,
      ...(resolved.platform ? { platform: resolved.platform } : {}),
      ...(resolved.indexDigest ? { indexDigest: resolved.indexDigest } : {}),
      layers: resolved.layers,
      config: resolved.config,
      client,
      ownsClient,
      options,
      ...(cache ? { cache } : {}),
    });
    if (options.requirePlatform && platform && !resolved.indexDigest) {
      const actual = await image.imagePlatform();
      if (actual && !platformMatches(platform, actual)) {
        throw new StargzError(
          'E_NOT_FOUND',
          `${formatReference(parsed)} is a ${formatPlatform(actual)} image, not ${formatPlatform(platform)} as asked (use --platform ${formatPlatform(actual)}, or another tag)`,
          { details: { platform: formatPlatform(platform), available: [formatPlatform(actual)] } },
        );
      }
    }
    return image;
  } catch (error) {
    await cache?.flush();
    if (ownsClient) await client.close().catch(() => {});
    throw toStargzError(error);
  }
}

/** The cache the options ask for: none (the default), the one given, or one in a directory. */
function openCache(options: OpenImageOptions): ContentCache | undefined {
  const { cache } = options;
  if (cache === undefined || cache === false) return undefined;
  if (cache instanceof ContentCache) return cache;
  return new ContentCache({ dir: cache, ...(options.logger ? { logger: options.logger } : {}) });
}
