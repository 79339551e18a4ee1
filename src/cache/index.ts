/** The content-addressed cache of TOCs and manifests. */

export {
  type CachedManifest,
  type CachedToc,
  type CacheInfo,
  type CacheKindInfo,
  type CacheStats,
  ContentCache,
  type ContentCacheOptions,
  DEFAULT_MAX_MANIFEST_BYTES,
  DEFAULT_MAX_TOC_BYTES,
  type PlatformChoice,
  type PruneOptions,
  type PruneResult,
  type TocToStore,
} from './content-cache.js';
export { digestOf, matchesDigest, parseDigest } from './digest.js';
export { defaultCacheDir } from './location.js';
export {
  cachedTocLoader,
  type LayerTocLoader,
  type LayerTocWithRaw,
  type TocCacheLayer,
} from './toc-loader.js';
