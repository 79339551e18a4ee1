/**
 * Resolving a reference to one image through the cache: the tag is turned into a digest with a manifest
 * HEAD (cheap, and not counted by Docker Hub's pull limit), then the manifest is loaded from the cache by
 * digest (verified) or fetched by digest and stored. For an index, the platform's choice is cached too, so
 * a warm resolution is one HEAD and no manifest body at all.
 */

import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import type { RegistryClient } from '../registry/client.js';
import { isIndexMediaType, parseImageManifest, type ResolvedImage } from '../registry/manifest.js';
import { formatPlatform } from '../registry/platform.js';
import { formatReference } from '../registry/reference.js';
import type { ImageReference, Platform } from '../registry/types.js';
import type { ContentCache } from './content-cache.js';

export interface ResolveThroughCacheOptions {
  platform: Platform;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Like `client.getManifest(reference)`, with manifests by digest from `cache`. Stores run in the
 * background (`cache.flush()` waits for them).
 */
export async function resolveImageThroughCache(
  client: RegistryClient,
  cache: ContentCache,
  reference: ImageReference,
  options: ResolveThroughCacheOptions,
): Promise<ResolvedImage> {
  const { platform, signal } = options;
  const logger = options.logger ?? silentLogger;
  const platformKey = formatPlatform(platform);
  let topDigest = reference.digest;
  if (topDigest === undefined) {
    try {
      topDigest = (await client.resolveDigest(reference, signal ? { signal } : {})).digest;
    } catch (error) {
      // a registry that answers HEAD oddly still serves GET: resolve without the cache
      if (!StargzError.is(error) || (error.code !== 'E_PROTOCOL' && error.code !== 'E_UNSUPPORTED'))
        throw error;
      logger.debug('manifest HEAD failed, fetching by tag', { error: error.message });
      return client.getManifest(reference, { platform, ...(signal ? { signal } : {}) });
    }
  }
  const choice = await cache.getPlatformChoice(topDigest, platformKey);
  const manifestDigest = choice?.digest ?? topDigest;
  const cached = await cache.getManifest(manifestDigest);
  if (cached !== undefined) {
    const image = imageFromCache(reference, manifestDigest, cached.bytes, cached.mediaType);
    if (image !== undefined) {
      if (choice !== undefined) {
        image.indexDigest = topDigest;
        if (choice.platform) image.platform = choice.platform;
      }
      logger.debug('manifest from the cache', { digest: manifestDigest });
      return image;
    }
  }
  const pinned: ImageReference = { ...reference, digest: topDigest };
  const resolved = await client.getManifest(pinned, { platform, ...(signal ? { signal } : {}) });
  cache.inBackground(cache.putManifest(resolved.digest, resolved.manifestBytes, resolved.mediaType));
  if (resolved.indexDigest !== undefined) {
    cache.inBackground(
      cache.putPlatformChoice(resolved.indexDigest, platformKey, {
        digest: resolved.digest,
        ...(resolved.platform ? { platform: resolved.platform } : {}),
      }),
    );
  }
  return { ...resolved, reference };
}

/** A ResolvedImage from verified cached bytes, or undefined when they are not an image manifest. */
function imageFromCache(
  reference: ImageReference,
  digest: string,
  bytes: Uint8Array,
  mediaType: string | undefined,
): ResolvedImage | undefined {
  try {
    const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
    const type =
      typeof json['mediaType'] === 'string' && json['mediaType'] !== ''
        ? json['mediaType']
        : (mediaType ?? 'application/vnd.oci.image.manifest.v1+json');
    if (isIndexMediaType(type) || Array.isArray(json['manifests'])) return undefined;
    const manifest = parseImageManifest(json, type, `manifest for ${formatReference(reference)}`);
    return {
      reference,
      digest,
      mediaType: type,
      manifest,
      config: manifest.config,
      layers: manifest.layers,
      manifestBytes: bytes,
    };
  } catch (error) {
    // verified bytes this parser rejects (e.g. schema 1): let the registry path say why
    if (StargzError.is(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
