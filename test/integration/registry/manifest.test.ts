import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/registry/client.js';
import { MANIFEST_ACCEPT, MEDIA_TYPES } from '../../../src/registry/manifest.js';
import { parseReference } from '../../../src/registry/reference.js';
import { failure } from '../../helpers/failure.js';
import { type FakeRegistry, sha256, startFakeRegistry } from './fake-registry.js';

function imageManifest(registry: FakeRegistry, label: string) {
  const config = Buffer.from(JSON.stringify({ architecture: label }));
  const layer = Buffer.from(`layer of ${label}`);
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: registry.putBlob(config),
      size: config.length,
    },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: registry.putBlob(layer),
        size: layer.length,
        annotations: { 'containerd.io/snapshot/stargz/toc.digest': sha256(label) },
      },
    ],
  };
}

describe('RegistryClient.getManifest against a scripted registry', () => {
  let registry: FakeRegistry;
  let client: RegistryClient;
  let ref: (path: string) => ReturnType<typeof parseReference>;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    registry = await startFakeRegistry();
    ref = (path) => parseReference(`${registry.host}/${path}`);
    digests.single = registry.putManifest(
      'app/single',
      'v1',
      imageManifest(registry, 'single'),
      MEDIA_TYPES.ociManifest,
    );
    const docker = { ...imageManifest(registry, 'docker'), mediaType: MEDIA_TYPES.dockerManifest };
    digests.docker = registry.putManifest('app/docker', 'v1', docker, MEDIA_TYPES.dockerManifest);
    const amd = registry.putManifest(
      'app/multi',
      undefined,
      imageManifest(registry, 'amd64'),
      MEDIA_TYPES.ociManifest,
    );
    const arm = registry.putManifest(
      'app/multi',
      undefined,
      imageManifest(registry, 'arm64'),
      MEDIA_TYPES.ociManifest,
    );
    digests.amd = amd;
    digests.arm = arm;
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: amd,
          size: registry.manifests.get(`app/multi@${amd}`)?.bytes.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        // arm64 without a variant: linux/arm64 (v8) must match it
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: arm,
          size: registry.manifests.get(`app/multi@${arm}`)?.bytes.length,
          platform: { os: 'linux', architecture: 'arm64' },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: sha256('attestation'),
          size: 10,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
        },
      ],
    };
    digests.index = registry.putManifest('app/multi', 'v1', index, MEDIA_TYPES.ociIndex);
    registry.putManifest(
      'app/schema1',
      'v1',
      { schemaVersion: 1, name: 'x', fsLayers: [] },
      MEDIA_TYPES.dockerSchema1Signed,
    );
    const huge = { ...imageManifest(registry, 'huge'), padding: 'x'.repeat(4 * 1024 * 1024) };
    registry.putManifest('app/huge', 'v1', huge, MEDIA_TYPES.ociManifest);
  });

  beforeEach(() => {
    client = new RegistryClient({
      platform: { os: 'linux', architecture: 'amd64' },
      retry: { maxRetries: 0 },
    });
    registry.controls.intercept = undefined;
    registry.controls.omitDigestHeader = false;
  });

  afterAll(async () => {
    await client?.close();
    await registry.close();
  });

  it('reads an OCI image manifest with the Accept header for all four media types', async () => {
    const image = await client.getManifest(ref('app/single:v1'));
    expect(image.digest).toBe(digests.single);
    expect(image.mediaType).toBe(MEDIA_TYPES.ociManifest);
    expect(image.layers).toHaveLength(1);
    expect(image.layers[0]?.annotations?.['containerd.io/snapshot/stargz/toc.digest']).toBe(sha256('single'));
    expect(sha256(image.manifestBytes)).toBe(image.digest);
    expect(image.indexDigest).toBeUndefined();
    const request = registry.requests.at(-1);
    expect(request?.path).toBe('/v2/app/single/manifests/v1');
    for (const type of Object.values(MEDIA_TYPES).slice(0, 4))
      expect(request?.headers.accept).toContain(type);
    expect(request?.headers.accept).toBe(MANIFEST_ACCEPT);
  });

  it('reads a Docker schema2 manifest', async () => {
    const image = await client.getManifest(ref('app/docker:v1'));
    expect(image.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    expect(image.digest).toBe(digests.docker);
  });

  it('resolves an index to the client platform and to an asked platform (arm64 matches no variant)', async () => {
    const amd = await client.getManifest(ref('app/multi:v1'));
    expect(amd.digest).toBe(digests.amd);
    expect(amd.indexDigest).toBe(digests.index);
    expect(amd.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    const arm = await client.getManifest(ref('app/multi:v1'), {
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    expect(arm.digest).toBe(digests.arm);
    expect(JSON.parse(Buffer.from(arm.manifestBytes).toString()).layers[0].size).toBe(
      'layer of arm64'.length,
    );
  });

  it('lists the platforms an index has when the asked one is missing', async () => {
    const error = await failure(
      client.getManifest(ref('app/multi:v1'), { platform: { os: 'linux', architecture: 's390x' } }),
    );
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain('linux/s390x');
    expect(error.message).toContain('available: linux/amd64, linux/arm64');
    expect(error.message).not.toContain('unknown');
  });

  it('reads a manifest by digest and verifies it', async () => {
    const image = await client.getManifest(ref(`app/multi@${digests.arm}`));
    expect(image.digest).toBe(digests.arm);
  });

  it('names the reference and the tag in a MANIFEST_UNKNOWN error', async () => {
    const error = await failure(client.getManifest(ref('app/single:nope')));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toBe(
      `manifest for ${registry.host}/app/single:nope not found (HTTP 404): check the tag`,
    );
  });

  it('names the repository in a NAME_UNKNOWN error', async () => {
    const error = await failure(client.getManifest(ref('nobody/here:v1')));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toBe(
      `repository ${registry.host}/nobody/here not found (HTTP 404): check the repository name`,
    );
  });

  it('maps DENIED to E_AUTH and TOOMANYREQUESTS to E_RATE_LIMITED', async () => {
    registry.controls.intercept = (req, res) => {
      const denied = req.url?.includes('denied');
      const body = JSON.stringify({
        errors: [
          denied
            ? { code: 'DENIED', message: 'requested access to the resource is denied' }
            : { code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit' },
        ],
      });
      res.writeHead(denied ? 403 : 429, { 'content-type': 'application/json' }).end(body);
      return true;
    };
    const denied = await failure(client.getManifest(ref('app/denied:v1')));
    expect(denied.code).toBe('E_AUTH');
    expect(denied.message).toContain(`${registry.host}/app/denied`);
    expect(denied.message).toContain('requested access to the resource is denied');
    const limited = await failure(client.getManifest(ref('app/limited:v1')));
    expect(limited.code).toBe('E_RATE_LIMITED');
    expect(limited.message).toContain('pull rate limit');
  });

  it('refuses bytes that do not match Docker-Content-Digest', async () => {
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      const body = JSON.stringify(imageManifest(registry, 'tampered'));
      res
        .writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': digests.single })
        .end(body);
      return true;
    };
    const error = await failure(client.getManifest(ref('app/single:v1')));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
    expect(error.message).toContain(digests.single);
  });

  it('refuses bytes that do not match the digest asked for, even without the header', async () => {
    registry.controls.omitDigestHeader = true;
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes(`/manifests/${digests.single}`)) return false;
      res
        .writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest })
        .end(JSON.stringify(imageManifest(registry, 'other')));
      return true;
    };
    const error = await failure(client.getManifest(ref(`app/single@${digests.single}`)));
    expect(error.code).toBe('E_DIGEST_MISMATCH');
  });

  it('accepts a manifest without Docker-Content-Digest and computes its digest', async () => {
    registry.controls.omitDigestHeader = true;
    const image = await client.getManifest(ref('app/single:v1'));
    expect(image.digest).toBe(digests.single);
  });

  it('caps manifests at 4 MiB', async () => {
    const error = await failure(client.getManifest(ref('app/huge:v1')));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toMatch(/larger than the 4194304-byte limit/);
  });

  it('caps manifests at 4 MiB when the size is not announced', async () => {
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': MEDIA_TYPES.ociManifest, 'transfer-encoding': 'chunked' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 5; i++) res.write(chunk);
      res.end();
      return true;
    };
    const error = await failure(client.getManifest(ref('app/single:v1')));
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toMatch(/larger than the 4194304-byte limit/);
  });

  it('says Docker schema 1 is not supported', async () => {
    const error = await failure(client.getManifest(ref('app/schema1:v1')));
    expect(error.code).toBe('E_UNSUPPORTED');
  });

  it('resolves a digest with HEAD, and with GET when the header is missing', async () => {
    const before = registry.requests.length;
    const head = await client.resolveDigest(ref('app/multi:v1'));
    expect(head).toMatchObject({ digest: digests.index, mediaType: MEDIA_TYPES.ociIndex });
    expect(registry.requests.slice(before).map((r) => r.method)).toEqual(['HEAD']);

    registry.controls.omitDigestHeader = true;
    const fallback = await client.resolveDigest(ref('app/multi:v1'));
    expect(fallback.digest).toBe(digests.index);
    expect(registry.requests.slice(before + 1).map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it.each([400, 405, 501])('falls back to GET when the registry refuses HEAD with %i', async (status) => {
    registry.controls.omitDigestHeader = false;
    registry.controls.intercept = (req, res) => {
      if (req.method !== 'HEAD') return false;
      res.writeHead(status, { 'content-length': 0 });
      res.end();
      return true;
    };
    try {
      const before = registry.requests.length;
      const resolved = await client.resolveDigest(ref('app/multi:v1'));
      expect(resolved.digest).toBe(digests.index);
      expect(registry.requests.slice(before).map((r) => r.method)).toEqual(['HEAD', 'GET']);
    } finally {
      registry.controls.intercept = undefined;
    }
  });

  it('maps a HEAD 404 to E_NOT_FOUND', async () => {
    const error = await failure(client.resolveDigest(ref('app/single:gone')));
    expect(error.code).toBe('E_NOT_FOUND');
  });
});
