import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  buildIndex,
  MediaTypes,
  type OciDescriptor,
  openLayout,
  pushImage,
  pushLayout,
  sha256Digest,
} from '../../helpers/oci.js';
import { findRegistryBinary, type RegistryServer, startRegistry } from '../../helpers/registry-server.js';

const IMAGES = join(import.meta.dirname, '../../fixtures/images');
const ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifest,
];

describe('startRegistry without auth', () => {
  let registry: RegistryServer;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.close());

  it('answers /v2/ on a loopback port of its own', async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(registry.port).not.toBe(5000);
    const res = await fetch(`${registry.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('pushes mini-tricky and serves its manifest and blob ranges byte for byte', async () => {
    const layout = await openLayout(join(IMAGES, 'mini-tricky/layout'));
    const entry = layout.tagged('v1');
    const pushed = await pushLayout(registry.url, layout.dir, 'fixtures/mini-tricky', 'v1');
    expect(pushed.digest).toBe(entry.digest);

    const res = await fetch(`${registry.url}/v2/fixtures/mini-tricky/manifests/v1`, {
      headers: { accept: ACCEPT.join(', ') },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(entry.mediaType);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(await layout.blob(entry.digest))).toBe(true);
    expect(res.headers.get('docker-content-digest')).toBe(sha256Digest(bytes));

    const manifest = JSON.parse(bytes.toString('utf8')) as { layers: OciDescriptor[]; config: OciDescriptor };
    expect(new Set(pushed.blobs)).toEqual(
      new Set([manifest.config.digest, ...manifest.layers.map((l) => l.digest)]),
    );
    const layer = manifest.layers[0]!;
    const blob = await layout.blob(layer.digest);
    const start = Math.floor(layer.size / 3);
    const end = start + 4095;
    const ranged = await fetch(`${registry.url}/v2/fixtures/mini-tricky/blobs/${layer.digest}`, {
      headers: { range: `bytes=${start}-${end}` },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${start}-${end}/${layer.size}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(blob.subarray(start, end + 1))).toBe(true);

    const tail = await fetch(`${registry.url}/v2/fixtures/mini-tricky/blobs/${layer.digest}`, {
      headers: { range: 'bytes=-51' },
    });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(blob.subarray(blob.length - 51))).toBe(true);
  });

  it('pushes mini-multi: the index by tag, each platform manifest by digest', async () => {
    const layout = await openLayout(join(IMAGES, 'mini-multi/layout'));
    const entry = layout.tagged('v1');
    expect(entry.mediaType).toBe(MediaTypes.ociIndex);
    const pushed = await pushLayout(registry.url, layout.dir, 'fixtures/mini-multi', 'v1');
    const index = await layout.json<{ manifests: OciDescriptor[] }>(entry.digest);
    expect(pushed.manifests).toEqual([...index.manifests.map((m) => m.digest), entry.digest]);

    const top = await fetch(`${registry.url}/v2/fixtures/mini-multi/manifests/v1`, {
      headers: { accept: ACCEPT.join(', ') },
    });
    expect(top.headers.get('docker-content-digest')).toBe(entry.digest);
    await top.arrayBuffer();
    for (const child of index.manifests) {
      const res = await fetch(`${registry.url}/v2/fixtures/mini-multi/manifests/${child.digest}`, {
        headers: { accept: ACCEPT.join(', ') },
      });
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(sha256Digest(bytes)).toBe(child.digest);
      expect(child.platform?.os).toBe('linux');
    }
  });

  it('pushes mini-docker with Docker schema2 media types', async () => {
    const layout = await openLayout(join(IMAGES, 'mini-docker/layout'));
    const entry = layout.tagged('v1');
    await pushLayout(registry.url, layout.dir, 'fixtures/mini-docker', 'v1');
    const res = await fetch(`${registry.url}/v2/fixtures/mini-docker/manifests/v1`, {
      headers: { accept: ACCEPT.join(', ') },
    });
    expect(res.headers.get('content-type')).toBe(MediaTypes.dockerManifest);
    expect(res.headers.get('docker-content-digest')).toBe(entry.digest);
    await res.arrayBuffer();
  });

  it('builds and pushes generated images and an index with annotations kept', async () => {
    const layer = Buffer.from(`generated layer ${Math.random()}`);
    const annotations = { 'containerd.io/snapshot/stargz/toc.digest': sha256Digest(Buffer.from('toc')) };
    const amd64 = buildImage({ layers: [{ data: layer, annotations }] });
    const arm64 = buildImage({ layers: [{ data: layer }], platform: { os: 'linux', architecture: 'arm64' } });
    const index = buildIndex([amd64, arm64]);
    const pushed = await pushImage(registry.url, 'generated/multi', 'latest', index);
    expect(pushed.digest).toBe(index.indexDigest);
    expect(pushed.manifests).toEqual([amd64.manifestDigest, arm64.manifestDigest, index.indexDigest]);

    const res = await fetch(`${registry.url}/v2/generated/multi/manifests/${amd64.manifestDigest}`, {
      headers: { accept: MediaTypes.ociManifest },
    });
    const manifest = (await res.json()) as { layers: OciDescriptor[]; config: OciDescriptor };
    expect(manifest.layers[0]!.annotations).toEqual(annotations);
    const config = await fetch(`${registry.url}/v2/generated/multi/blobs/${manifest.config.digest}`);
    const parsed = (await config.json()) as { rootfs: { diff_ids: string[] } };
    expect(parsed.rootfs.diff_ids).toEqual([`sha256:${createHash('sha256').update(layer).digest('hex')}`]);
  });
});

describe('registry lifecycle', () => {
  it('close() stops the process and removes its temp dir', async () => {
    const registry = await startRegistry();
    expect(existsSync(registry.dir)).toBe(true);
    await registry.close();
    expect(existsSync(registry.dir)).toBe(false);
    await expect(fetch(`${registry.url}/v2/`)).rejects.toThrow();
    await registry.close();
  });

  it('two registries run side by side on different ports', async () => {
    const [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    try {
      expect(a.port).not.toBe(b.port);
      await pushImage(a.url, 'only/a', 'x', buildImage({ layers: [{ data: Buffer.from('a') }] }));
      expect((await fetch(`${a.url}/v2/only/a/tags/list`)).status).toBe(200);
      expect((await fetch(`${b.url}/v2/only/a/tags/list`)).status).toBe(404);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reports the registry output when it fails to start', async () => {
    const failure = startRegistry({ extraConfig: { storage: { nosuchdriver: {} } } });
    await expect(failure).rejects.toThrow(/exited with code \d+[\s\S]*registry output:[\s\S]*nosuchdriver/);
  });

  it('says how to install the registry when the binary is missing', async () => {
    await expect(findRegistryBinary('/nonexistent/docker-registry')).rejects.toThrow(
      /sudo apt-get install docker-registry.*\.ci\/run/,
    );
    await expect(startRegistry({ binary: '/nonexistent/docker-registry' })).rejects.toThrow(
      'sudo apt-get install docker-registry',
    );
  });

  it('serves HTTPS with a self-signed certificate when asked', async () => {
    const registry = await startRegistry({ tls: true });
    try {
      expect(registry.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(registry.certificate?.certPem).toContain('BEGIN CERTIFICATE');
      await expect(fetch(`${registry.url}/v2/`)).rejects.toThrow();
      const dispatcher = new Agent({ connect: { ca: registry.certificate!.certPem } });
      try {
        const res = await undiciFetch(`${registry.url}/v2/`, { dispatcher });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      } finally {
        await dispatcher.close();
      }
    } finally {
      await registry.close();
    }
  });
});
