/**
 * The registry client against the real distribution registry (Debian's docker-registry): no auth, htpasswd
 * Basic auth and token auth, with the fixture images pushed byte for byte.
 */

import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { BlobRangeResponse, Credential, Descriptor } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import { startFaultFront } from '../../helpers/fronts.js';
import { type OciLayout, openLayout, pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

const IMAGES = join(import.meta.dirname, '../../fixtures/images');
const TRICKY = join(IMAGES, 'mini-tricky/layout');
const MULTI = join(IMAGES, 'mini-multi/layout');

async function collect(response: BlobRangeResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of response.body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

const credentials = (credential: Credential | undefined): RegistryClientOptions['credentials'] => ({
  get: async () => credential,
});

const clients: RegistryClient[] = [];
function makeClient(options: RegistryClientOptions = {}): RegistryClient {
  const client = new RegistryClient({ platform: { os: 'linux', architecture: 'amd64' }, ...options });
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** The manifest a layout tags `v1` (an image manifest, not an index). */
async function taggedManifest(
  layout: OciLayout,
): Promise<{ digest: string; layers: Descriptor[]; config: Descriptor }> {
  const entry = layout.tagged('v1');
  const manifest = await layout.json<{ layers: Descriptor[]; config: Descriptor }>(entry.digest);
  return { digest: entry.digest, layers: manifest.layers, config: manifest.config };
}

describe('real registry without auth', () => {
  let registry: RegistryServer;
  let tricky: OciLayout;
  let multi: OciLayout;

  beforeAll(async () => {
    registry = await startRegistry();
    tricky = await openLayout(TRICKY);
    multi = await openLayout(MULTI);
    await pushLayout(registry.url, TRICKY, 'fixtures/mini-tricky', 'v1');
    await pushLayout(registry.url, MULTI, 'fixtures/mini-multi', 'v1');
  });
  afterAll(() => registry?.close());

  const ref = (text: string) => parseReference(`${registry.host}/${text}`);

  it('resolves mini-tricky to the pushed manifest and reads layer ranges and tails byte for byte', async () => {
    const expected = await taggedManifest(tricky);
    const client = makeClient();
    const image = await client.getManifest(ref('fixtures/mini-tricky:v1'));
    expect(image.digest).toBe(expected.digest);
    expect(image.layers).toEqual(expected.layers);
    expect(image.config).toEqual(expected.config);
    expect(Buffer.from(image.manifestBytes).equals(await tricky.blob(expected.digest))).toBe(true);

    for (const layer of image.layers) {
      const bytes = await tricky.blob(layer.digest);
      const start = Math.floor(layer.size / 3);
      const end = Math.min(layer.size, start + 4096);
      const range = await client.readRange(image.reference, layer.digest, start, end);
      expect(range).toMatchObject({ kind: 'partial', start, end, totalSize: layer.size });
      expect((await collect(range)).equals(bytes.subarray(start, end))).toBe(true);
      const tail = await client.blob(image.reference, layer).readTail(64 * 1024);
      expect((await collect(tail)).equals(bytes.subarray(Math.max(0, layer.size - 64 * 1024)))).toBe(true);
    }
    expect(client.ignoresRange(registry.host)).toBe(false);
  });

  it('resolves the mini-multi index by platform', async () => {
    const index = multi.tagged('v1');
    const entries = (await multi.json<{ manifests: Descriptor[] }>(index.digest)).manifests;
    const client = makeClient();
    for (const platform of ['linux/amd64', 'linux/arm64'] as const) {
      const [os, architecture] = platform.split('/') as [string, string];
      const wanted = entries.find((e) => e.platform?.os === os && e.platform.architecture === architecture);
      const image = await client.getManifest(ref('fixtures/mini-multi:v1'), {
        platform: architecture === 'arm64' ? { os, architecture, variant: 'v8' } : { os, architecture },
      });
      expect(image.digest).toBe(wanted?.digest);
      expect(image.indexDigest).toBe(index.digest);
      const manifest = await multi.json<{ layers: Descriptor[] }>(wanted?.digest ?? '');
      expect(image.layers).toEqual(manifest.layers);
    }
    const missing = await failure(
      client.getManifest(ref('fixtures/mini-multi:v1'), {
        platform: { os: 'linux', architecture: 'riscv64' },
      }),
    );
    expect(missing.code).toBe('E_NOT_FOUND');
    expect(missing.message).toContain('available: linux/amd64, linux/arm64');
    expect((await client.resolveDigest(ref('fixtures/mini-multi:v1'))).digest).toBe(index.digest);
    const byDigest = await client.getManifest(ref(`fixtures/mini-multi@${index.digest}`));
    expect(byDigest.indexDigest).toBe(index.digest);
  });

  it('reports missing tags, repositories and blobs as E_NOT_FOUND with the reference', async () => {
    const client = makeClient();
    const tag = await failure(client.getManifest(ref('fixtures/mini-tricky:nope')));
    expect(tag.code).toBe('E_NOT_FOUND');
    expect(tag.message).toBe(
      `manifest for ${registry.host}/fixtures/mini-tricky:nope not found (HTTP 404): check the tag`,
    );
    const repository = await failure(client.getManifest(ref('fixtures/absent:v1')));
    expect(repository.code).toBe('E_NOT_FOUND');
    expect(repository.message).toContain(`${registry.host}/fixtures/absent`);
    const blob = await failure(
      client.readRange(ref('fixtures/mini-tricky:v1'), `sha256:${'1'.repeat(64)}`, 0, 10),
    );
    expect(blob.code).toBe('E_NOT_FOUND');
  });
});

describe('real registry with htpasswd Basic auth', () => {
  let registry: RegistryServer;
  beforeAll(async () => {
    registry = await startRegistry({ auth: { type: 'htpasswd', users: { alice: 'wonder land' } } });
    await pushLayout(registry.url, TRICKY, 'private/tricky', 'v1', {
      credentials: { username: 'alice', password: 'wonder land' },
    });
  });
  afterAll(() => registry?.close());

  it('reads with the right credentials', async () => {
    const client = makeClient({
      credentials: credentials({ kind: 'basic', username: 'alice', password: 'wonder land' }),
    });
    const image = await client.getManifest(parseReference(`${registry.host}/private/tricky:v1`));
    const layer = image.layers[0] as Descriptor;
    const bytes = await collect(await client.readRange(image.reference, layer.digest, 0, 100));
    expect(bytes.equals((await (await openLayout(TRICKY)).blob(layer.digest)).subarray(0, 100))).toBe(true);
  });

  it('gives E_AUTH for a wrong password after exactly two requests', async () => {
    const front = await startFaultFront(registry);
    try {
      const client = makeClient({
        credentials: credentials({ kind: 'basic', username: 'alice', password: 'x' }),
      });
      const error = await failure(client.getManifest(parseReference(`${front.host}/private/tricky:v1`)));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain('authentication required');
      expect(error.message).not.toContain('wonder');
      expect(front.requests.map((r) => [r.status, r.authorization])).toEqual([
        [401, false],
        [401, true],
      ]);
    } finally {
      await front.close();
    }
  });
});

describe('real registry with token auth', () => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  let tricky: OciLayout;

  beforeAll(async () => {
    tokens = await startTokenServer({
      users: { bob: 'builder' },
      identityTokens: { 'identity-of-bob': 'bob' },
      anonymousPull: ['public/tricky'],
    });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    tricky = await openLayout(TRICKY);
    for (const repo of ['public/tricky', 'private/tricky']) {
      await pushLayout(registry.url, TRICKY, repo, 'v1', {
        credentials: { username: 'bob', password: 'builder' },
      });
    }
  });
  afterAll(async () => {
    await registry?.close();
    await tokens?.close();
  });

  const ref = (repo: string) => parseReference(`${registry.host}/${repo}:v1`);
  const expectedDigest = () => tricky.tagged('v1').digest;

  it('reads an anonymous-pull repository with an anonymous token', async () => {
    const before = tokens.tokenRequestCount;
    const client = makeClient();
    const image = await client.getManifest(ref('public/tricky'));
    expect(image.digest).toBe(expectedDigest());
    await collect(await client.readRange(image.reference, (image.layers[0] as Descriptor).digest, 0, 10));
    expect(tokens.tokenRequestCount - before).toBe(1);
    expect(tokens.requests.at(-1)).toMatchObject({
      scopes: ['repository:public/tricky:pull'],
      authorization: undefined,
    });
  });

  it('refuses a private repository to anonymous clients with E_AUTH', async () => {
    const error = await failure(makeClient().getManifest(ref('private/tricky')));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toContain(`${registry.host}/private/tricky`);
  });

  it('reads a private repository with Basic credentials at the realm', async () => {
    const client = makeClient({
      credentials: credentials({ kind: 'basic', username: 'bob', password: 'builder' }),
    });
    const image = await client.getManifest(ref('private/tricky'));
    expect(image.digest).toBe(expectedDigest());
    expect(tokens.requests.at(-1)).toMatchObject({ user: 'bob', status: 200 });
  });

  it('reads a private repository with an identity token', async () => {
    const client = makeClient({
      credentials: credentials({ kind: 'identityToken', token: 'identity-of-bob' }),
    });
    const image = await client.getManifest(ref('private/tricky'));
    expect(image.digest).toBe(expectedDigest());
    expect(tokens.requests.at(-1)).toMatchObject({ grantType: 'refresh_token', user: 'bob' });
  });

  it('gives E_AUTH with the token server message for a wrong password, once', async () => {
    const before = tokens.tokenRequestCount;
    const client = makeClient({
      credentials: credentials({ kind: 'basic', username: 'bob', password: 'nope' }),
    });
    const error = await failure(client.getManifest(ref('private/tricky')));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toMatch(/token server/);
    expect(error.message).not.toContain('nope');
    expect(tokens.tokenRequestCount - before).toBe(1);
  });

  it('renews the token when expires_in runs out (client clock)', async () => {
    tokens.update({ expiresIn: 60 });
    let clock = Date.now();
    try {
      const client = makeClient({ now: () => clock });
      const before = tokens.tokenRequestCount;
      await client.getManifest(ref('public/tricky'));
      clock += 10_000;
      await client.getManifest(ref('public/tricky'));
      expect(tokens.tokenRequestCount - before).toBe(1);
      clock += 50_000;
      await client.getManifest(ref('public/tricky'));
      expect(tokens.tokenRequestCount - before).toBe(2);
    } finally {
      tokens.update({ expiresIn: 300 });
    }
  });

  it('survives a token that stops working during a long read (401 → fresh token)', async () => {
    const scope = 'repository:public/tricky:pull';
    const front = await startFaultFront(registry, [
      {
        name: 'revoked',
        match: { when: (r) => tokens.isRevoked(r.authorization) },
        action: { type: 'status', status: 401, headers: { 'www-authenticate': tokens.challenge(scope) } },
      },
    ]);
    try {
      const client = makeClient();
      const reference = parseReference(`${front.host}/public/tricky:v1`);
      const image = await client.getManifest(reference);
      const layer = image.layers[0] as Descriptor;
      const bytes = await tricky.blob(layer.digest);
      const half = Math.floor(layer.size / 2);
      expect(
        (await collect(await client.readRange(reference, layer.digest, 0, half))).equals(
          bytes.subarray(0, half),
        ),
      ).toBe(true);
      tokens.revokeIssued();
      const rest = await collect(await client.readRange(reference, layer.digest, half, layer.size));
      expect(rest.equals(bytes.subarray(half))).toBe(true);
      expect(front.requests.filter((r) => r.fault === 'revoked')).toHaveLength(1);
    } finally {
      await front.close();
    }
  });
});
