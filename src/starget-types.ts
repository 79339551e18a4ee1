/** The types of the library facade (`openImage`, `StargetImage`): options, layers, results, events. */

import type { ContentCache } from './cache/content-cache.js';
import type { DownloadResult } from './download/job.js';
import type { DownloadEvent } from './download/types.js';
import type { StargzError } from './errors.js';
import type { LayerToc } from './estargz/types.js';
import type { IndexEntry } from './image/types.js';
import type { Logger } from './log.js';
import type { RegistryClient } from './registry/client.js';
import type { RetryOptions } from './registry/retry.js';
import type { ProxySettings } from './registry/transport.js';
import type { CredentialProvider, Descriptor, Platform } from './registry/types.js';

export interface OpenImageOptions {
  /** `os/arch[/variant]` or a Platform, picked from a multi-platform image (default: the host's) */
  platform?: string | Platform;
  /**
   * The platform was asked for, not defaulted: a single-platform image of another platform is then
   * E_NOT_FOUND (as `docker pull --platform`), instead of being read as it is. Costs one config read.
   */
  requirePlatform?: boolean;
  /** where credentials come from (anonymous when absent) */
  credentials?: CredentialProvider;
  /** HTTP instead of HTTPS (default: HTTP for loopback registries only) */
  plainHttp?: boolean;
  /** accept any TLS certificate */
  insecure?: boolean;
  /** HTTP(S) proxies (the values of HTTP_PROXY / HTTPS_PROXY / NO_PROXY); unset: direct connections */
  proxy?: ProxySettings;
  retry?: Partial<RetryOptions>;
  /** per-request timeout in ms */
  timeoutMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
  /**
   * Work on this layer alone (`sha256:<hex>`, or a unique prefix of 12+ hex digits): only it is opened,
   * listings and gets see only its files, and the other layers need not be eStargz.
   */
  layer?: string;
  /** bytes read from the end of each layer at first (default 512 KiB) */
  tailSize?: number;
  /** a client to share (it is not closed by `close()`); otherwise one is made from the options above */
  client?: RegistryClient;
  /** replaces the TOC reader (e.g. a cache in front of `openLayer`); the `cache` option is then not used for TOCs */
  loadLayerToc?: (layer: ImageLayer, open: () => Promise<LayerToc>) => Promise<LayerToc>;
  /**
   * The TOC and manifest cache: a ContentCache, its directory, or `false` / unset for none (the library
   * does not pick a directory itself; the CLI passes `defaultCacheDir(env, home)`, i.e.
   * `$XDG_CACHE_HOME/starget`, else `~/.cache/starget`). Stores finish in `close()`.
   */
  cache?: ContentCache | string | false;
  /**
   * Bytes of each layer's tail kept in memory after opening it (default 1 MiB), so that reads of the
   * files stored just before the TOC need no request; released when a get or cat ends. 0 keeps none.
   */
  holdTailBytes?: number;
}

/** One layer of the image, as the manifest describes it. */
export interface ImageLayer {
  descriptor: Descriptor;
  digest: string;
  size: number;
  mediaType: string;
  /** 0 = bottom layer */
  position: number;
  /** the TOC digest the manifest announces, when it does */
  annotatedTocDigest?: string;
}

/** What opening a layer found. */
export type LayerStatus =
  | { layer: ImageLayer; estargz: true; toc: LayerToc }
  | { layer: ImageLayer; estargz: false; error: StargzError };

/** `info()`: the manifest and, per layer, whether it is eStargz and its TOC digest. */
export interface ImageInfo {
  reference: string;
  digest: string;
  mediaType: string;
  platform: string | null;
  layers: {
    digest: string;
    size: number;
    mediaType: string;
    estargz: boolean;
    tocDigest: string | null;
    footer?: 'estargz' | 'legacy';
    /** why the layer is not eStargz */
    reason?: string;
  }[];
}

export interface GetOptions {
  /**
   * 'tree' (default): every match lands at `destination/<path in image>`.
   * 'target' (stargz-get's form): a pattern naming one non-directory path writes it to `destination`
   * itself, or into it when `destination` is an existing directory or ends with '/'; other patterns as 'tree'.
   */
  layout?: 'tree' | 'target';
  /** parallel range requests (default 4) */
  concurrency?: number;
  /** do not check chunk and file digests */
  skipVerify?: boolean;
  /** keep uid/gid from the image */
  preserveOwner?: boolean;
  /** reuse the verified progress an interrupted run left in the output directory (default true) */
  resume?: boolean;
  /** write what selected symlinks lead to (inside the image) instead of the links, as `cp -L` */
  dereference?: boolean;
  signal?: AbortSignal;
  /** progress, warnings, fallbacks; the totals to expect come first as a `plan` event */
  onEvent?: (event: GetEvent) => void;
}

/** Events of `get`: the plan (what will be written), then the downloader's events. */
export type GetEvent = { type: 'plan'; files: number; bytes: number; entries: number } | DownloadEvent;

export interface GetResult extends DownloadResult {
  /** the entries written, in path order */
  entries: IndexEntry[];
  /** the directory everything was written under */
  outDir: string;
}

export interface GetHandle {
  /** settles when every file is written, or rejects with a StargzError */
  done: Promise<GetResult>;
  cancel(reason?: unknown): void;
}
