import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { MEDIA_TYPES } from '../../../src/registry/manifest.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { Credential, CredentialProvider } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import {
  type FakeRegistry,
  type FakeTokenServer,
  startFakeRegistry,
  startServer,
  startTokenServer,
  type TestServer,
} from './fake-registry.js';

function provider(credential: Credential | undefined, asked: string[] = []): CredentialProvider {
  return {
    async get(registry) {
      asked.push(registry);
      return credential;
    },
  };
}

const SERVICE = 'fake-registry';
const PRIVATE = 'team/private';
const PUBLIC = 'team/public';

describe('RegistryClient authentication', () => {
  let registry: FakeRegistry;
  let tokens: FakeTokenServer;
  let layerDigest: string;
  let clock: number;
  const clients: RegistryClient[] = [];
  const extra: TestServer[] = [];

  function client(options: RegistryClientOptions = {}): RegistryClient {
    const made = new RegistryClient({
      platform: { os: 'linux', architecture: 'amd64' },
      retry: { maxRetries: 0 },
      now: () => clock,
      ...options,
    });
    clients.push(made);
    return made;
  }
  const ref = (repository: string) => parseReference(`${registry.host}/${repository}:v1`);
  const registryAuthHeaders = () => registry.requests.map((r) => r.headers.authorization);

  function useBearer(realm = `${tokens.url}/token`): void {
    registry.controls.auth = {
      kind: 'bearer',
      realm,
      service: SERVICE,
      accepts: (token, repository) => {
        const issued = tokens.issued.get(token);
        if (issued === undefined || tokens.revoked.has(token)) return false;
        if (!issued.scope.split(' ').includes(`repository:${repository}:pull`)) return false;
        return repository !== PRIVATE || issued.subject !== 'anonymous';
      },
    };
  }

  beforeAll(async () => {
    registry = await startFakeRegistry();
    tokens = await startTokenServer();
    for (const repository of [PRIVATE, PUBLIC]) {
      const layer = Buffer.from('0123456789abcdef');
      layerDigest = registry.putBlob(layer);
      const config = Buffer.from('{}');
      registry.putManifest(
        repository,
        'v1',
        {
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: registry.putBlob(config),
            size: 2,
          },
          layers: [
            {
              mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
              digest: layerDigest,
              size: layer.length,
            },
          ],
        },
        MEDIA_TYPES.ociManifest,
      );
    }
  });

  beforeEach(() => {
    clock = Date.parse('2025-01-01T00:00:00Z');
    registry.requests.length = 0;
    tokens.requests.length = 0;
    tokens.controls.expiresIn = undefined;
    tokens.controls.field = 'token';
    registry.controls.auth = { kind: 'none' };
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((made) => made.close()));
    await Promise.all(extra.splice(0).map((server) => server.close()));
  });

  afterAll(async () => {
    await registry.close();
    await tokens.close();
  });

  describe('Basic', () => {
    beforeEach(() => {
      registry.controls.auth = { kind: 'basic', username: 'bob', password: 'hunter2' };
    });

    it('answers a Basic challenge with the credentials and sends them up front afterwards', async () => {
      const asked: string[] = [];
      const c = client({
        credentials: provider({ kind: 'basic', username: 'bob', password: 'hunter2' }, asked),
      });
      await c.getManifest(ref(PRIVATE));
      const body = await c.readRange(ref(PRIVATE), layerDigest, 0, 4);
      for await (const _chunk of body.body) {
        // drain
      }
      const basic = `Basic ${Buffer.from('bob:hunter2').toString('base64')}`;
      expect(registryAuthHeaders()).toEqual([undefined, basic, basic]);
      expect(new Set(asked)).toEqual(new Set([registry.host]));
    });

    it('gives E_AUTH with the registry message for wrong credentials, without a loop', async () => {
      const c = client({ credentials: provider({ kind: 'basic', username: 'bob', password: 'wrong' }) });
      const error = await failure(c.getManifest(ref(PRIVATE)));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain('authentication required');
      expect(error.message).toContain(`${registry.host}/${PRIVATE}`);
      expect(error.message).not.toContain('wrong');
      expect(registry.requests).toHaveLength(2);
    });

    it('gives E_AUTH at once without credentials', async () => {
      const error = await failure(client().getManifest(ref(PRIVATE)));
      expect(error.code).toBe('E_AUTH');
      expect(registry.requests).toHaveLength(1);
    });
  });

  describe('Bearer', () => {
    beforeEach(() => useBearer());

    it('reads public repositories with an anonymous token, fetched once and sent up front', async () => {
      const c = client();
      await c.getManifest(ref(PUBLIC));
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(1);
      const tokenRequest = tokens.requests[0];
      expect(tokenRequest?.path).toBe(`/token?service=${SERVICE}&scope=repository%3Ateam%2Fpublic%3Apull`);
      expect(tokenRequest?.headers.authorization).toBeUndefined();
      const [first, ...rest] = registryAuthHeaders();
      expect(first).toBeUndefined();
      expect(rest).toHaveLength(2);
      expect(new Set(rest).size).toBe(1);
      expect(rest[0]).toMatch(/^Bearer tok-/);
      expect(c.stats().tokenFetches).toBe(1);
    });

    it('fetches one token per repository scope', async () => {
      const c = client({ credentials: provider({ kind: 'basic', username: 'alice', password: 's3cret' }) });
      await c.getManifest(ref(PUBLIC));
      await c.getManifest(ref(PRIVATE));
      expect(tokens.requests.map((r) => new URL(r.path, 'http://x').searchParams.get('scope'))).toEqual([
        `repository:${PUBLIC}:pull`,
        `repository:${PRIVATE}:pull`,
      ]);
      // the second repository's token is fetched before its first request: no second 401
      expect(registry.requests.filter((r) => r.headers.authorization === undefined)).toHaveLength(1);
    });

    it('sends Basic credentials to the token realm only', async () => {
      const c = client({ credentials: provider({ kind: 'basic', username: 'alice', password: 's3cret' }) });
      const image = await c.getManifest(ref(PRIVATE));
      expect(image.layers).toHaveLength(1);
      expect(tokens.requests[0]?.headers.authorization).toBe(
        `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
      );
      expect(registryAuthHeaders().every((value) => value === undefined || value.startsWith('Bearer '))).toBe(
        true,
      );
    });

    it('gives E_AUTH with the token server message for wrong credentials, once', async () => {
      const c = client({ credentials: provider({ kind: 'basic', username: 'alice', password: 'nope' }) });
      const error = await failure(c.getManifest(ref(PRIVATE)));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain('incorrect username or password');
      expect(error.message).not.toContain('nope');
      expect(tokens.requests).toHaveLength(1);
      expect(registry.requests).toHaveLength(1);
    });

    it('gives E_AUTH for a private repository read anonymously, after one token', async () => {
      const error = await failure(client().getManifest(ref(PRIVATE)));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain(`access to ${registry.host}/${PRIVATE} denied (HTTP 401`);
      expect(tokens.requests).toHaveLength(1);
      expect(registry.requests).toHaveLength(2);
    });

    it('exchanges an identity token with the refresh_token grant and reads access_token', async () => {
      tokens.controls.field = 'access_token';
      const c = client({ credentials: provider({ kind: 'identityToken', token: 'refresh-123' }) });
      await c.getManifest(ref(PRIVATE));
      expect(tokens.requests[0]?.method).toBe('POST');
      expect(tokens.requests[0]?.headers.authorization).toBeUndefined();
      const issued = [...tokens.issued.values()].at(-1);
      expect(issued).toMatchObject({ subject: 'refresh', scope: `repository:${PRIVATE}:pull` });
    });

    it('refuses a wrong identity token with E_AUTH', async () => {
      const c = client({ credentials: provider({ kind: 'identityToken', token: 'stale' }) });
      const error = await failure(c.getManifest(ref(PRIVATE)));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain('invalid_grant');
    });

    it('renews a token before expires_in runs out', async () => {
      tokens.controls.expiresIn = 60;
      const c = client();
      await c.getManifest(ref(PUBLIC));
      clock += 30_000;
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(1);
      clock += 20_000; // 50 s: inside the refresh leeway of a 60 s token
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(2);
      // no 401 for the renewal: only the very first request went without a token
      expect(registryAuthHeaders().filter((value) => value === undefined)).toHaveLength(1);
    });

    it('uses the default 60 s lifetime when expires_in is absent', async () => {
      const c = client();
      await c.getManifest(ref(PUBLIC));
      clock += 40_000;
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(1);
      clock += 30_000;
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(2);
    });

    it('reads expires_in sent as a string of digits', async () => {
      tokens.controls.expiresIn = '3600';
      const c = client();
      await c.getManifest(ref(PUBLIC));
      clock += 600_000;
      await c.getManifest(ref(PUBLIC));
      expect(tokens.requests).toHaveLength(1);
    });

    it('fetches a fresh token once when the registry stops accepting the cached one', async () => {
      tokens.controls.expiresIn = 3600;
      const c = client();
      await c.getManifest(ref(PUBLIC));
      for (const token of tokens.issued.keys()) tokens.revoked.add(token);
      const image = await c.getManifest(ref(PUBLIC));
      expect(image.layers).toHaveLength(1);
      expect(tokens.requests).toHaveLength(2);
      expect(c.stats().authRetries).toBe(2);
    });

    it('sends a ready registry token as is and does not loop when it is refused', async () => {
      const c = client({ credentials: provider({ kind: 'registryToken', token: 'not-issued' }) });
      const error = await failure(c.getManifest(ref(PUBLIC)));
      expect(error.code).toBe('E_AUTH');
      expect(registryAuthHeaders()).toEqual(['Bearer not-issued']);
      expect(tokens.requests).toHaveLength(0);
    });

    it('drops Basic credentials when the realm redirects to another origin', async () => {
      const moved = await startServer((_req, res) => {
        res
          .writeHead(307, {
            location: `${tokens.url}/token?service=${SERVICE}&scope=repository:${PUBLIC}:pull`,
          })
          .end();
      });
      extra.push(moved);
      useBearer(`${moved.url}/auth`);
      const c = client({ credentials: provider({ kind: 'basic', username: 'alice', password: 's3cret' }) });
      await c.getManifest(ref(PUBLIC));
      expect(moved.requests[0]?.headers.authorization).toMatch(/^Basic /);
      expect(tokens.requests[0]?.headers.authorization).toBeUndefined();
    });

    it('renews a refused token once for concurrent requests', async () => {
      tokens.controls.expiresIn = 3600;
      const c = client();
      await c.getManifest(ref(PUBLIC));
      for (const token of tokens.issued.keys()) tokens.revoked.add(token);
      await Promise.all([c.getManifest(ref(PUBLIC)), c.getManifest(ref(PUBLIC)), c.getManifest(ref(PUBLIC))]);
      expect(tokens.requests).toHaveLength(2);
    });

    it('shares one token fetch among concurrent requests', async () => {
      const c = client();
      await c.getManifest(ref(PUBLIC)); // learn the challenge
      clock += 120_000; // every cached token is stale now
      await Promise.all([c.getManifest(ref(PUBLIC)), c.getManifest(ref(PUBLIC)), c.getManifest(ref(PUBLIC))]);
      expect(tokens.requests).toHaveLength(2);
    });
  });
});
