/**
 * Manifest shapes real registries serve that the main suite does not: schema 1 with its payload digest,
 * indexes whose entries lack `platform`, media types with parameters.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/registry/client.js';
import { MEDIA_TYPES } from '../../../src/registry/manifest.js';
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
      },
    ],
  };
}

describe('RegistryClient.getManifest with manifest variants', () => {
  let registry: FakeRegistry;
  let client: RegistryClient;
  let ref: (path: string) => ReturnType<typeof parseReference>;

  beforeAll(async () => {
    registry = await startFakeRegistry();
    ref = (path) => parseReference(`${registry.host}/${path}`);
  });

  beforeEach(() => {
    client = new RegistryClient({
      platform: { os: 'linux', architecture: 'amd64' },
      retry: { maxRetries: 0 },
    });
    registry.controls.intercept = undefined;
  });

  afterAll(async () => {
    await client?.close();
    await registry.close();
  });

  it('says schema 1 is not supported even though its Docker-Content-Digest covers the unsigned payload', async () => {
    // a signed schema 1 manifest's digest is that of the payload without its "signatures": never the bytes
    const signed = Buffer.from(
      JSON.stringify({ schemaVersion: 1, name: 'old/app', tag: 'v1', fsLayers: [], signatures: [{}] }),
    );
    const payloadDigest = sha256('{"schemaVersion":1,"name":"old/app","tag":"v1","fsLayers":[]}');
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, {
        'content-type': `${MEDIA_TYPES.dockerSchema1Signed}; charset=utf-8`,
        'docker-content-digest': payloadDigest,
        'content-length': signed.length,
      });
      res.end(signed);
      return true;
    };
    const byTag = await failure(client.getManifest(ref('old/app:v1')));
    expect(byTag.code).toBe('E_UNSUPPORTED');
    expect(byTag.message).toMatch(/schema 1/);
    const byDigest = await failure(client.getManifest(ref(`old/app@${payloadDigest}`)));
    expect(byDigest.code).toBe('E_UNSUPPORTED');
  });

  it('still refuses altered image manifests with E_DIGEST_MISMATCH', async () => {
    const bytes = Buffer.from(JSON.stringify(imageManifest(registry, 'altered')));
    registry.controls.intercept = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, {
        'content-type': MEDIA_TYPES.ociManifest,
        'docker-content-digest': sha256('something else'),
      });
      res.end(bytes);
      return true;
    };
    expect((await failure(client.getManifest(ref('app/altered:v1')))).code).toBe('E_DIGEST_MISMATCH');
  });

  it('resolves an index whose only image entry names no platform', async () => {
    const child = registry.putManifest(
      'app/unnamed',
      undefined,
      imageManifest(registry, 'unnamed'),
      MEDIA_TYPES.ociManifest,
    );
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: child,
          size: registry.manifests.get(`app/unnamed@${child}`)?.bytes.length,
        },
      ],
    };
    registry.putManifest('app/unnamed', 'v1', index, `${MEDIA_TYPES.ociIndex}; charset=utf-8`);
    const image = await client.getManifest(ref('app/unnamed:v1'));
    expect(image.digest).toBe(child);
    expect(image.layers).toHaveLength(1);
  });
});
