import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** OCI and Docker media types the harness writes. */
export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

/** `sha256:<hex>` of `data`. */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A descriptor as the harness writes it. */
export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** Credentials the pusher uses: Basic directly, or at the token realm when the registry asks for Bearer. */
export interface PushOptions {
  credentials?: { username: string; password: string };
  /** fetch to use (e.g. one bound to an undici Agent that trusts a test certificate); default global fetch */
  fetch?: typeof fetch;
}

/** What a push made: the digest the tag points at, and every blob and manifest digest sent. */
export interface PushResult {
  digest: string;
  mediaType: string;
  size: number;
  /** digests of blobs uploaded or already present, in push order */
  blobs: string[];
  /** digests of manifests pushed (children before the index), in push order */
  manifests: string[];
}

/** Parses `Bearer realm="…",service="…"` (quoted values may hold commas) into scheme and parameters. */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const match of header.slice(space + 1).matchAll(re)) {
    params[match[1]!.toLowerCase()] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!;
  }
  return { scheme, params };
}

/** A tiny authenticated client for one repository, enough to push test content. */
class Pusher {
  private authorization: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(
    readonly registryUrl: string,
    readonly repo: string,
    private readonly options: PushOptions,
  ) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Sends a request; on a 401 it authenticates from the challenge once and repeats. */
  async send(method: string, url: string, init: { headers?: Record<string, string>; body?: Buffer } = {}) {
    const attempt = () =>
      this.fetch(url, {
        method,
        headers: { ...init.headers, ...(this.authorization ? { authorization: this.authorization } : {}) },
        body: init.body,
        redirect: 'manual',
      });
    let res = await attempt();
    if (res.status === 401) {
      await res.arrayBuffer();
      await this.authenticate(res.headers.get('www-authenticate') ?? '');
      res = await attempt();
    }
    return res;
  }

  private async authenticate(challenge: string): Promise<void> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = this.options.credentials;
    const basic = creds
      ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      : undefined;
    if (scheme === 'basic') {
      if (!basic) throw new Error(`registry ${this.registryUrl} wants Basic auth: pass credentials`);
      this.authorization = basic;
      return;
    }
    if (scheme !== 'bearer' || !params.realm) throw new Error(`unsupported challenge: ${challenge}`);
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', `repository:${this.repo}:pull,push`);
    const res = await this.fetch(realm, { headers: basic ? { authorization: basic } : {} });
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!res.ok || !token) throw new Error(`token request to ${realm.origin} failed with HTTP ${res.status}`);
    this.authorization = `Bearer ${token}`;
  }

  async pushBlob(digest: string, data: Buffer): Promise<void> {
    const base = `${this.registryUrl}/v2/${this.repo}/blobs`;
    const head = await this.send('HEAD', `${base}/${digest}`);
    if (head.status === 200) return;
    const start = await this.send('POST', `${base}/uploads/`);
    await start.arrayBuffer();
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw new Error(`blob upload start answered HTTP ${start.status}`);
    const target = new URL(location, this.registryUrl);
    target.searchParams.set('digest', digest);
    const put = await this.send('PUT', target.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    const text = await put.text();
    if (put.status !== 201) throw new Error(`blob ${digest} upload answered HTTP ${put.status}: ${text}`);
  }

  async pushManifest(reference: string, mediaType: string, data: Buffer): Promise<string> {
    const res = await this.send('PUT', `${this.registryUrl}/v2/${this.repo}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: data,
    });
    const text = await res.text();
    if (res.status !== 201)
      throw new Error(`manifest ${reference} push answered HTTP ${res.status}: ${text}`);
    return res.headers.get('docker-content-digest') ?? sha256Digest(data);
  }
}

/** Something the pusher can read blobs and manifests from by digest. */
type BlobStore = (digest: string) => Promise<Buffer>;

/** Pushes the manifest or index `bytes` and everything it references (children first), tagging it `reference`. */
async function pushTree(
  pusher: Pusher,
  store: BlobStore,
  mediaType: string,
  bytes: Buffer,
  reference: string,
  result: PushResult,
): Promise<string> {
  const doc = JSON.parse(bytes.toString('utf8')) as {
    mediaType?: string;
    manifests?: OciDescriptor[];
    config?: OciDescriptor;
    layers?: OciDescriptor[];
  };
  if (INDEX_TYPES.has(mediaType)) {
    for (const child of doc.manifests ?? []) {
      await pushTree(pusher, store, child.mediaType, await store(child.digest), child.digest, result);
    }
  } else {
    for (const blob of [doc.config, ...(doc.layers ?? [])]) {
      if (!blob) continue;
      await pusher.pushBlob(blob.digest, await store(blob.digest));
      result.blobs.push(blob.digest);
    }
  }
  const digest = await pusher.pushManifest(reference, mediaType, bytes);
  result.manifests.push(digest);
  return digest;
}

/** An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`). */
export interface OciLayout {
  dir: string;
  /** the entries of `index.json` */
  entries: OciDescriptor[];
  /** the `index.json` entry whose `org.opencontainers.image.ref.name` is `tag`; throws when there is none */
  tagged(tag: string): OciDescriptor;
  /** the bytes of a blob (or manifest) by digest */
  blob(digest: string): Promise<Buffer>;
  /** a manifest or index parsed as JSON */
  json<T = Record<string, unknown>>(digest: string): Promise<T>;
}

/** Opens the OCI image layout at `dir`. */
export async function openLayout(dir: string): Promise<OciLayout> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: OciDescriptor[] };
  const blob = (digest: string) => readFile(join(dir, 'blobs', ...digest.split(':')));
  return {
    dir,
    entries: index.manifests,
    tagged(tag) {
      const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
      if (!entry) throw new Error(`${dir}/index.json has no entry tagged ${tag}`);
      return entry;
    },
    blob,
    async json(digest) {
      return JSON.parse((await blob(digest)).toString('utf8'));
    },
  };
}

/**
 * Pushes the image tagged `layoutTag` (default `v1`, the `org.opencontainers.image.ref.name` annotation) in the
 * OCI image layout at `layoutDir` to `registryUrl/repo:tag` through the distribution API: blobs by
 * POST+PUT, then manifests with their own media type, children before an index. Bytes are sent unchanged, so
 * every digest holds. Authenticates by itself when the registry answers 401 (Basic, or Bearer with a
 * `pull,push` token from the realm).
 */
export async function pushLayout(
  registryUrl: string,
  layoutDir: string,
  repo: string,
  tag: string,
  options: PushOptions & { layoutTag?: string } = {},
): Promise<PushResult> {
  const layout = await openLayout(layoutDir);
  const entry = layout.tagged(options.layoutTag ?? 'v1');
  const pusher = new Pusher(registryUrl, repo, options);
  const result: PushResult = {
    digest: '',
    mediaType: entry.mediaType,
    size: entry.size,
    blobs: [],
    manifests: [],
  };
  result.digest = await pushTree(
    pusher,
    layout.blob,
    entry.mediaType,
    await layout.blob(entry.digest),
    tag,
    result,
  );
  return result;
}

/** One layer to put in a generated image. */
export interface LayerInput {
  data: Buffer;
  /** default `application/vnd.oci.image.layer.v1.tar+gzip` (the Docker one with `format: 'docker'`) */
  mediaType?: string;
  /** descriptor annotations, e.g. `containerd.io/snapshot/stargz/toc.digest` */
  annotations?: Record<string, string>;
}

/** A generated single-platform image: its manifest, config and blobs, ready to push. */
export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
  config: Buffer;
  configDigest: string;
  layers: OciDescriptor[];
  platform: { os: string; architecture: string; variant?: string };
  /** every blob (config and layers) by digest */
  blobs: Map<string, Buffer>;
}

/** A generated index over several images. */
export interface BuiltIndex {
  index: Buffer;
  indexDigest: string;
  indexMediaType: string;
  images: BuiltImage[];
}

/**
 * Builds an image manifest and config around `layers` (bytes unchanged). The config's `diff_ids` are the sha256
 * of each layer gunzipped (or of the bytes as they are, when not gzip). `format: 'docker'` writes Docker schema2.
 */
export function buildImage(input: {
  layers: LayerInput[];
  platform?: { os: string; architecture: string; variant?: string };
  format?: 'oci' | 'docker';
  /** manifest annotations (OCI only) */
  annotations?: Record<string, string>;
}): BuiltImage {
  const docker = input.format === 'docker';
  const platform = input.platform ?? { os: 'linux', architecture: 'amd64' };
  const blobs = new Map<string, Buffer>();
  const layers: OciDescriptor[] = input.layers.map((layer) => {
    const digest = sha256Digest(layer.data);
    blobs.set(digest, layer.data);
    const descriptor: OciDescriptor = {
      mediaType: layer.mediaType ?? (docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip),
      digest,
      size: layer.data.length,
    };
    if (layer.annotations) descriptor.annotations = layer.annotations;
    return descriptor;
  });
  const diffIds = input.layers.map((layer) => {
    try {
      return sha256Digest(gunzipSync(layer.data));
    } catch {
      return sha256Digest(layer.data);
    }
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDigest = sha256Digest(config);
  blobs.set(configDigest, config);
  const manifestMediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
        digest: configDigest,
        size: config.length,
      },
      layers,
      ...(input.annotations && !docker ? { annotations: input.annotations } : {}),
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    manifestMediaType,
    config,
    configDigest,
    layers,
    platform,
    blobs,
  };
}

/** Builds an OCI image index (or a Docker manifest list with `format: 'docker'`) over `images`. */
export function buildIndex(images: BuiltImage[], format: 'oci' | 'docker' = 'oci'): BuiltIndex {
  const indexMediaType = format === 'docker' ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: indexMediaType,
      manifests: images.map((image) => ({
        mediaType: image.manifestMediaType,
        digest: image.manifestDigest,
        size: image.manifest.length,
        platform: image.platform,
      })),
    }),
  );
  return { index, indexDigest: sha256Digest(index), indexMediaType, images };
}

/** Pushes a generated image or index (blobs, then manifests, children first) to `registryUrl/repo:tag`. */
export async function pushImage(
  registryUrl: string,
  repo: string,
  tag: string,
  image: BuiltImage | BuiltIndex,
  options: PushOptions = {},
): Promise<PushResult> {
  const images = 'index' in image ? image.images : [image];
  const byDigest = new Map<string, Buffer>();
  for (const one of images) {
    byDigest.set(one.manifestDigest, one.manifest);
    for (const [digest, data] of one.blobs) byDigest.set(digest, data);
  }
  const store: BlobStore = async (digest) => {
    const data = byDigest.get(digest);
    if (!data) throw new Error(`generated image has no blob ${digest}`);
    return data;
  };
  const [mediaType, bytes] =
    'index' in image ? [image.indexMediaType, image.index] : [image.manifestMediaType, image.manifest];
  const pusher = new Pusher(registryUrl, repo, options);
  const result: PushResult = { digest: '', mediaType, size: bytes.length, blobs: [], manifests: [] };
  result.digest = await pushTree(pusher, store, mediaType, bytes, tag, result);
  return result;
}
