/** The registry-facing types the rest of starget builds on. */

export interface ImageReference {
  /** registry as the user names it: `docker.io`, `localhost:5000`, `ghcr.io` */
  registry: string;
  /** repository path: `library/alpine` */
  repository: string;
  tag?: string;
  /** `sha256:<hex>`; when present it wins over the tag */
  digest?: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  urls?: string[];
  /** OCI 1.1: the artifact type of a manifest that is not a container image (signatures, SBOMs) */
  artifactType?: string;
}

/**
 * The answer to a range read. `partial`: the server sent exactly [start, end).
 * `whole`: the server ignored Range and the body is the whole blob from byte 0 (the caller decides
 * whether to stream through it or give up); `totalSize` is the blob size when known.
 */
export interface BlobRangeResponse {
  kind: 'partial' | 'whole';
  start: number;
  /** exclusive */
  end: number;
  totalSize?: number;
  body: AsyncIterable<Uint8Array>;
}

/** A readable blob: what the eStargz reader and the downloader need from a registry (or a file). */
export interface BlobSource {
  /** `sha256:<hex>` of the blob */
  readonly digest: string;
  /** blob size in bytes, from the manifest descriptor */
  readonly size: number;
  /** the descriptor's media type, when known (for messages about layers that cannot be eStargz) */
  readonly mediaType?: string;
  /** Reads [start, end) (end exclusive). Retries, auth and redirects are the source's business. */
  readRange(start: number, end: number, options?: { signal?: AbortSignal }): Promise<BlobRangeResponse>;
}

/** What a credential source can give for a registry host. */
export type Credential =
  | { kind: 'basic'; username: string; password: string }
  /** an identity (refresh) token, exchanged at the token realm with the OAuth2 refresh_token grant */
  | { kind: 'identityToken'; token: string; username?: string }
  /** a ready registry bearer token, sent as is */
  | { kind: 'registryToken'; token: string };

/** Looks up credentials for a registry host (`docker.io`, `localhost:5000`). undefined means anonymous. */
export interface CredentialProvider {
  get(registry: string): Promise<Credential | undefined>;
}
