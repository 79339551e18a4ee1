/**
 * RegistryClient: the registry side of starget. Resolves references to images (manifests, indexes,
 * platforms), reads blob ranges, and owns one transport (pooled connections, auth, retries, redirects).
 */

import type { Logger } from '../log.js';
import { RegistryApi } from './api.js';
import { Authenticator } from './auth.js';
import { type BlobMemory, createBlobMemory, type ReadRangeOptions, readBlobRange } from './blob.js';
import {
  fetchManifest,
  headManifest,
  type ManifestDigest,
  type ResolvedImage,
  resolveImage,
} from './manifest.js';
import { hostPlatform } from './platform.js';
import { referenceTarget } from './reference.js';
import type { RetryOptions } from './retry.js';
import { type ProxySettings, Transport, type TransportStats } from './transport.js';
import type {
  BlobRangeResponse,
  BlobSource,
  CredentialProvider,
  Descriptor,
  ImageReference,
  Platform,
} from './types.js';

export interface RegistryClientOptions {
  /** where credentials come from; anonymous when absent */
  credentials?: CredentialProvider;
  /** `true`: plain HTTP to every registry; `false`: HTTPS everywhere; unset: HTTP for loopback hosts only */
  plainHttp?: boolean;
  /** skip TLS certificate verification */
  insecure?: boolean;
  /** retries (default 3), backoff base (200 ms), backoff cap (10 s), longest Retry-After waited for (60 s) */
  retry?: Partial<RetryOptions>;
  /** connect, response-headers and body-idle timeout in ms (default 30 000) */
  timeoutMs?: number;
  logger?: Logger;
  userAgent?: string;
  /** the platform picked from an index when a call does not name one (default: the host's) */
  platform?: Platform;
  /** test hooks: a fake clock */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
  /** HTTP(S) proxies (HTTP_PROXY / HTTPS_PROXY / NO_PROXY values); unset: direct connections */
  proxy?: ProxySettings;
}

export interface RegistryClientStats extends TransportStats {
  tokenFetches: number;
}

export interface GetManifestOptions {
  platform?: Platform;
  signal?: AbortSignal;
}

/** A blob of an image, read by ranges (what the eStargz reader and the downloader take). */
export interface RegistryBlob extends BlobSource {
  /** The last `length` bytes (or the whole blob when shorter), computed from the descriptor size. */
  readTail(length: number, options?: { signal?: AbortSignal }): Promise<BlobRangeResponse>;
}

export class RegistryClient {
  /** the platform used when a call does not name one */
  readonly platform: Platform;
  private readonly transport: Transport;
  private readonly auth: Authenticator;
  private readonly api: RegistryApi;
  private readonly memory: BlobMemory = createBlobMemory();

  constructor(options: RegistryClientOptions = {}) {
    this.platform = options.platform ?? hostPlatform();
    this.transport = new Transport({
      plainHttp: options.plainHttp,
      insecure: options.insecure,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      logger: options.logger,
      userAgent: options.userAgent,
      sleep: options.sleep,
      now: options.now,
      random: options.random,
      proxy: options.proxy,
    });
    this.auth = new Authenticator(this.transport, options.credentials);
    this.api = new RegistryApi(this.transport, this.auth);
  }

  /**
   * Resolves a reference to one image: its manifest, config and layers. An index is resolved to the entry
   * for `options.platform` (else the client's platform). Bytes are verified against the digest asked for or
   * the registry's Docker-Content-Digest.
   */
  getManifest(reference: ImageReference, options: GetManifestOptions = {}): Promise<ResolvedImage> {
    return resolveImage(this.api, reference, options.platform ?? this.platform, options.signal);
  }

  /**
   * The digest the reference points at now (index or manifest), via HEAD; falls back to a GET when the
   * registry does not send Docker-Content-Digest. For cache keys.
   */
  async resolveDigest(
    reference: ImageReference,
    options: { signal?: AbortSignal } = {},
  ): Promise<ManifestDigest> {
    const target = referenceTarget(reference);
    const head = await headManifest(this.api, reference, target, options.signal);
    if (head !== undefined) return head;
    const fetched = await fetchManifest(this.api, reference, target, options.signal);
    return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
  }

  /**
   * Reads bytes [start, end) of a blob of the reference's repository (see BlobRangeResponse for 'partial'
   * and 'whole'). Body breaks are resumed; redirects never carry credentials to another origin.
   */
  readRange(
    reference: ImageReference,
    digest: string,
    start: number,
    end: number,
    options: ReadRangeOptions = {},
  ): Promise<BlobRangeResponse> {
    return readBlobRange(this.api, this.memory, reference, digest, start, end, options);
  }

  /**
   * A range-readable blob for a descriptor of the reference's image. A foreign layer the registry does not
   * hold is read from the descriptor's `urls`.
   */
  blob(reference: ImageReference, descriptor: Descriptor): RegistryBlob {
    const client = this;
    const { digest, size, urls } = descriptor;
    const known = urls?.length ? { size, urls } : { size };
    return {
      digest,
      size,
      mediaType: descriptor.mediaType,
      readRange(start, end, options = {}) {
        return client.readRange(reference, digest, start, end, { ...options, ...known });
      },
      readTail(length, options = {}) {
        return client.readRange(reference, digest, Math.max(0, size - length), size, {
          ...options,
          ...known,
        });
      },
    };
  }

  /** True once the registry has answered a range request with the whole blob. */
  ignoresRange(registry: string): boolean {
    return this.memory.rangeIgnored.has(registry);
  }

  stats(): RegistryClientStats {
    return { ...this.transport.stats(), ...this.auth.stats() };
  }

  /** Closes pooled connections. */
  close(): Promise<void> {
    return this.transport.close();
  }
}
