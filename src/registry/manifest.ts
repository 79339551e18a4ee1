/**
 * Manifests: fetching with the right Accept, size cap and digest verification, parsing OCI / Docker
 * manifests and indexes, and resolving an index to one platform's image.
 */

import { createHash } from 'node:crypto';
import { StargzError } from '../errors.js';
import { type RegistryApi, repositoryName } from './api.js';
import { availablePlatforms, formatPlatform, selectPlatformManifest } from './platform.js';
import { digestProblem, formatReference, isValidDigest, referenceTarget } from './reference.js';
import { type ErrorSubject, registryError } from './registry-errors.js';
import type { Descriptor, ImageReference, Platform } from './types.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The Accept header for manifest requests: indexes and image manifests, OCI and Docker. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

/** Manifests larger than this are refused (the OCI distribution spec's suggested limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** An image manifest's JSON, with the fields starget reads. */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** One platform's image, resolved from a reference. */
export interface ResolvedImage {
  /** the reference as asked */
  reference: ImageReference;
  /** digest of the image manifest (the platform's, when the reference named an index) */
  digest: string;
  mediaType: string;
  manifest: ImageManifest;
  config: Descriptor;
  layers: Descriptor[];
  /** the platform of the index entry chosen, when the reference named an index */
  platform?: Platform;
  /** digest of the index, when the reference named one */
  indexDigest?: string;
  /** the manifest exactly as served (its sha256 is `digest`) */
  manifestBytes: Uint8Array;
}

/** A manifest or index as fetched and verified. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  json: Record<string, unknown>;
}

/** What HEAD tells about a manifest: its digest, media type and size. */
export interface ManifestDigest {
  digest: string;
  mediaType?: string;
  size?: number;
}

function manifestSubject(reference: ImageReference, target: string): ErrorSubject {
  const shown =
    target === referenceTarget(reference)
      ? formatReference(reference)
      : `${repositoryName(reference)}@${target}`;
  return {
    what: `manifest for ${shown}`,
    repository: repositoryName(reference),
    notFoundHint: target.includes(':') && isValidDigest(target) ? 'the digest' : 'the tag',
  };
}

/** Hashes bytes with a digest's algorithm: `sha256:<hex>`. */
export function digestOf(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function mediaTypeOf(json: Record<string, unknown>, contentType: string | undefined): string {
  if (typeof json.mediaType === 'string' && json.mediaType !== '') return json.mediaType;
  const header = contentType?.split(';')[0]?.trim();
  if (header && header !== 'application/json' && header !== 'application/octet-stream') return header;
  if (Array.isArray(json.manifests)) return MEDIA_TYPES.ociIndex;
  return MEDIA_TYPES.ociManifest;
}

/** True when a manifest is Docker schema 1, by its Content-Type or its `schemaVersion`. */
function isSchema1(contentType: string | undefined, bytes: Buffer): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === MEDIA_TYPES.dockerSchema1 || type === MEDIA_TYPES.dockerSchema1Signed) return true;
  try {
    const json: unknown = JSON.parse(bytes.toString('utf8'));
    return (json as { schemaVersion?: unknown } | null)?.schemaVersion === 1;
  } catch {
    return false;
  }
}

function schema1Error(what: string): StargzError {
  return new StargzError(
    'E_UNSUPPORTED',
    `${what} is a Docker schema 1 manifest, which starget does not read`,
  );
}

/** True for an OCI index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}

/**
 * GETs a manifest by tag or digest, capped at 4 MiB, and verifies its bytes against the digest asked for,
 * else against `Docker-Content-Digest`. Registry errors become E_NOT_FOUND / E_AUTH / E_RATE_LIMITED.
 */
export async function fetchManifest(
  api: RegistryApi,
  reference: ImageReference,
  target: string,
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  const subject = manifestSubject(reference, target);
  const url = api.url(reference, 'manifests', target);
  const { response, bytes } = await api.sendBytes(
    reference,
    url,
    { method: 'GET', headers: { accept: MANIFEST_ACCEPT }, signal },
    MAX_MANIFEST_BYTES,
    subject.what,
  );
  if (response.status !== 200) throw registryError(response.status, bytes.toString('utf8'), subject);

  const headerDigest = response.header('docker-content-digest')?.trim();
  const expected = isValidDigest(target)
    ? target
    : headerDigest && isValidDigest(headerDigest)
      ? headerDigest
      : undefined;
  const algorithm = expected?.slice(0, expected.indexOf(':')) ?? 'sha256';
  const actual = digestOf(bytes, algorithm);
  if (expected !== undefined && actual !== expected) {
    // a signed schema 1 manifest's digest covers its payload without signatures, never the bytes served
    if (isSchema1(response.header('content-type'), bytes)) throw schema1Error(subject.what);
    throw new StargzError(
      'E_DIGEST_MISMATCH',
      `${subject.what} does not match its digest: expected ${expected}, got ${actual}`,
      { details: { expected, actual, reference: formatReference(reference) } },
    );
  }

  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new StargzError('E_PROTOCOL', `${subject.what} is not valid JSON`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StargzError('E_PROTOCOL', `${subject.what} is not a JSON object`);
  }
  const record = json as Record<string, unknown>;
  return {
    digest: actual,
    mediaType: mediaTypeOf(record, response.header('content-type')),
    bytes,
    json: record,
  };
}

/** HEADs a manifest and reads its digest from `Docker-Content-Digest`; undefined when the header is absent. */
/** Answers to a manifest HEAD that mean "ask with GET" rather than "not there". */
const HEAD_REFUSED: ReadonlySet<number> = new Set([400, 405, 501]);

export async function headManifest(
  api: RegistryApi,
  reference: ImageReference,
  target: string,
  signal?: AbortSignal,
): Promise<ManifestDigest | undefined> {
  const subject = manifestSubject(reference, target);
  const response = await api.send(reference, api.url(reference, 'manifests', target), {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT },
    signal,
  });
  await response.dump();
  // some registries and proxies refuse HEAD on manifests: the caller falls back to GET
  if (HEAD_REFUSED.has(response.status)) return undefined;
  if (response.status !== 200) throw registryError(response.status, '', subject);
  const digest = response.header('docker-content-digest')?.trim();
  if (digest === undefined || !isValidDigest(digest)) return undefined;
  if (isValidDigest(target) && digest !== target) {
    throw new StargzError('E_DIGEST_MISMATCH', `${subject.what} is served with digest ${digest}`, {
      details: { expected: target, actual: digest },
    });
  }
  const mediaType = response.header('content-type')?.split(';')[0]?.trim();
  const size = response.contentLength;
  return { digest, ...(mediaType ? { mediaType } : {}), ...(size !== undefined ? { size } : {}) };
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null) {
    throw new StargzError('E_PROTOCOL', `${where} is not a descriptor object`);
  }
  const record = value as Record<string, unknown>;
  const { mediaType, digest, size } = record;
  if (typeof digest !== 'string' || digestProblem(digest) !== undefined) {
    throw new StargzError('E_PROTOCOL', `${where} has an invalid digest ${JSON.stringify(digest)}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new StargzError('E_PROTOCOL', `${where} has an invalid size ${JSON.stringify(size)}`);
  }
  const descriptor: Descriptor = { mediaType: typeof mediaType === 'string' ? mediaType : '', digest, size };
  const annotations = stringRecord(record.annotations);
  if (annotations !== undefined) descriptor.annotations = annotations;
  const platform = parsePlatformField(record.platform);
  if (platform !== undefined) descriptor.platform = platform;
  if (Array.isArray(record.urls)) descriptor.urls = record.urls.filter((url) => typeof url === 'string');
  if (typeof record.artifactType === 'string') descriptor.artifactType = record.artifactType;
  return descriptor;
}

/** The string-valued keys of a JSON object (annotations); anything else in it is dropped. */
function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') out[key] = item;
  return out;
}

/** A descriptor's platform, typed field by field; without a string os and architecture there is none. */
function parsePlatformField(value: unknown): Descriptor['platform'] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.os !== 'string' || typeof record.architecture !== 'string') return undefined;
  const platform: NonNullable<Descriptor['platform']> = { os: record.os, architecture: record.architecture };
  if (typeof record.variant === 'string') platform.variant = record.variant;
  if (typeof record['os.version'] === 'string') platform['os.version'] = record['os.version'];
  const features = record['os.features'];
  if (Array.isArray(features)) platform['os.features'] = features.filter((f) => typeof f === 'string');
  return platform;
}

/** The entries of an index / manifest list. */
export function parseIndex(json: Record<string, unknown>, what: string): Descriptor[] {
  if (!Array.isArray(json.manifests)) throw new StargzError('E_PROTOCOL', `${what} has no "manifests" list`);
  return json.manifests.map((entry, i) => parseDescriptor(entry, `${what}: manifests[${i}]`));
}

/** Checks an image manifest's shape and returns it typed. Docker schema 1 is E_UNSUPPORTED. */
export function parseImageManifest(
  json: Record<string, unknown>,
  mediaType: string,
  what: string,
): ImageManifest {
  if (
    mediaType === MEDIA_TYPES.dockerSchema1 ||
    mediaType === MEDIA_TYPES.dockerSchema1Signed ||
    json.schemaVersion === 1
  ) {
    throw schema1Error(what);
  }
  if (!Array.isArray(json.layers)) throw new StargzError('E_PROTOCOL', `${what} has no "layers" list`);
  const config = parseDescriptor(json.config, `${what}: config`);
  const layers = json.layers.map((layer, i) => parseDescriptor(layer, `${what}: layers[${i}]`));
  return { ...json, schemaVersion: Number(json.schemaVersion ?? 2), config, layers } as ImageManifest;
}

/**
 * Resolves a reference to one image: fetches its manifest and, for an index, the entry for `platform`
 * (E_NOT_FOUND listing the platforms there are when it has none).
 */
export async function resolveImage(
  api: RegistryApi,
  reference: ImageReference,
  platform: Platform,
  signal?: AbortSignal,
): Promise<ResolvedImage> {
  const top = await fetchManifest(api, reference, referenceTarget(reference), signal);
  const shown = formatReference(reference);
  if (!isIndexMediaType(top.mediaType) && !(top.json.manifests && !top.json.layers)) {
    const manifest = parseImageManifest(top.json, top.mediaType, `manifest for ${shown}`);
    return imageFrom(reference, top, manifest);
  }
  const entries = parseIndex(top.json, `index for ${shown}`);
  const chosen = selectPlatformManifest(entries, platform);
  if (chosen === undefined) {
    const available = availablePlatforms(entries);
    throw new StargzError(
      'E_NOT_FOUND',
      `${shown} has no image for ${formatPlatform(platform)}; available: ${available.join(', ') || 'none'} (use --platform)`,
      { details: { reference: shown, platform: formatPlatform(platform), available } },
    );
  }
  const child = await fetchManifest(api, reference, chosen.digest, signal);
  if (isIndexMediaType(child.mediaType)) {
    throw new StargzError(
      'E_UNSUPPORTED',
      `the ${formatPlatform(platform)} entry of ${shown} is another index`,
    );
  }
  const manifest = parseImageManifest(child.json, child.mediaType, `manifest ${chosen.digest} of ${shown}`);
  const image = imageFrom(reference, child, manifest);
  image.indexDigest = top.digest;
  if (chosen.platform) image.platform = chosen.platform;
  return image;
}

function imageFrom(
  reference: ImageReference,
  fetched: FetchedManifest,
  manifest: ImageManifest,
): ResolvedImage {
  return {
    reference,
    digest: fetched.digest,
    mediaType: fetched.mediaType,
    manifest,
    config: manifest.config,
    layers: manifest.layers,
    manifestBytes: new Uint8Array(fetched.bytes),
  };
}
