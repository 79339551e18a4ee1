/**
 * starget as a library. Start with `openImage(reference, options)`; the parts it is built from
 * (RegistryClient, openLayer, ImageIndex, Downloader, SafeWriter) are exported for finer control.
 */

export type {
  CacheInfo,
  CacheStats,
  ContentCacheOptions,
  PruneOptions,
  PruneResult,
} from './cache/index.js';
export { ContentCache, defaultCacheDir } from './cache/index.js';
export type {
  CredentialLookup,
  CredentialLookupEvent,
  CredentialSource,
  DefaultCredentialsOptions,
} from './credentials/index.js';
export {
  chainProviders,
  defaultCredentials,
  dockerConfigCredentials,
  staticCredential,
} from './credentials/index.js';
export type { CatOptions, CatResult } from './download/cat.js';
export { catFile } from './download/cat.js';
export type { DownloaderOptions } from './download/downloader.js';
export { Downloader } from './download/downloader.js';
export type {
  BlobSourceLookup,
  DownloadHandle,
  DownloadJob,
  DownloadOptions,
  DownloadResult,
} from './download/job.js';
export type { SafeWriterOptions } from './download/safe-writer.js';
export { SafeWriter } from './download/safe-writer.js';
export type { DownloadEntry, DownloadEvent, DownloadProgress, DownloadWarning } from './download/types.js';
export type { StargzErrorCode, StargzErrorOptions } from './errors.js';
export { EXIT_CODES, exitCodeFor, StargzError, toStargzError } from './errors.js';
export { decodeMembers } from './estargz/decode.js';
export { parseFooter } from './estargz/footer.js';
export type { OpenLayerOptions } from './estargz/layer.js';
export { openLayer } from './estargz/layer.js';
export type { Footer, FooterKind, LayerToc, Toc, TocChunk, TocEntry, TocEntryType } from './estargz/types.js';
export type { FilterOptions } from './image/image-index.js';
export { ImageIndex } from './image/image-index.js';
export type { CompiledPattern } from './image/patterns.js';
export { compilePattern } from './image/patterns.js';
export type { IndexEntry, IndexEntryType, IndexLayer, IndexLayerInput } from './image/types.js';
export type { Logger, LogLevel } from './log.js';
export { silentLogger } from './log.js';
export { RedactingLogger, redactText, redactUrl } from './redact.js';
export type {
  GetManifestOptions,
  RegistryBlob,
  RegistryClientOptions,
  RegistryClientStats,
} from './registry/client.js';
export { RegistryClient } from './registry/client.js';
export type { ImageManifest, ResolvedImage } from './registry/manifest.js';
export { formatPlatform, parsePlatform } from './registry/platform.js';
export { formatReference, parseReference } from './registry/reference.js';
export type { RetryOptions } from './registry/retry.js';
export type {
  BlobRangeResponse,
  BlobSource,
  Credential,
  CredentialProvider,
  Descriptor,
  ImageReference,
  Platform,
} from './registry/types.js';
export type {
  GetEvent,
  GetHandle,
  GetOptions,
  GetResult,
  ImageInfo,
  ImageLayer,
  LayerStatus,
  OpenImageOptions,
} from './starget.js';
export { openImage, resolveLayer, StargetImage, TOC_DIGEST_ANNOTATION } from './starget.js';
