/** The registry side of starget: references, platforms and the RegistryClient. */

export { type AuthChallenge, parseChallenges } from './challenge.js';
export {
  type GetManifestOptions,
  type RegistryBlob,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryClientStats,
} from './client.js';
export {
  type ImageManifest,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  type ManifestDigest,
  MEDIA_TYPES,
  type ResolvedImage,
} from './manifest.js';
export {
  availablePlatforms,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  selectPlatformManifest,
} from './platform.js';
export {
  DOCKER_HUB,
  digestProblem,
  formatReference,
  isLoopbackRegistry,
  isValidDigest,
  parseReference,
  referenceTarget,
  registryApiHost,
} from './reference.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry.js';
export type { ProxySettings } from './transport.js';
export type * from './types.js';
