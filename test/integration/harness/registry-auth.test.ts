import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, verifyJwt } from '../../helpers/jwt.js';
import { MediaTypes, openLayout, pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

const TRICKY = join(import.meta.dirname, '../../fixtures/images/mini-tricky/layout');
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Reads `key="value"` parameters of a challenge (values here hold no quotes). */
function challengeParams(header: string | null): Record<string, string> {
  return Object.fromEntries([...(header ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

describe('registry with htpasswd Basic auth', () => {
  let registry: RegistryServer;
  beforeAll(async () => {
    registry = await startRegistry({
      auth: { type: 'htpasswd', users: { alice: 'wonder land' }, realm: 'test' },
    });
    await pushLayout(registry.url, TRICKY, 'private/tricky', 'v1', {
      credentials: { username: 'alice', password: 'wonder land' },
    });
  });
  afterAll(() => registry?.close());

  it('challenges anonymous requests with Basic', async () => {
    const res = await fetch(`${registry.url}/v2/private/tricky/manifests/v1`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="test"');
  });

  it('refuses a wrong password and accepts the right one', async () => {
    const wrong = await fetch(`${registry.url}/v2/private/tricky/manifests/v1`, {
      headers: { authorization: basic('alice', 'nope'), accept: MediaTypes.ociManifest },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${registry.url}/v2/private/tricky/manifests/v1`, {
      headers: { authorization: basic('alice', 'wonder land'), accept: MediaTypes.ociManifest },
    });
    expect(right.status).toBe(200);
    const layout = await openLayout(TRICKY);
    expect(right.headers.get('docker-content-digest')).toBe(layout.tagged('v1').digest);
    await right.arrayBuffer();
  });
});

describe.each([
  { algorithm: 'ES256', keyHeader: 'x5c' },
  { algorithm: 'RS256', keyHeader: 'kid' },
] as const)('registry with token auth ($algorithm, $keyHeader)', ({ algorithm, keyHeader }) => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  const manifestUrl = (repo: string) => `${registry.url}/v2/${repo}/manifests/v1`;
  const accept = MediaTypes.ociManifest;

  beforeAll(async () => {
    tokens = await startTokenServer({
      algorithm,
      keyHeader,
      users: { bob: 'builder' },
      identityTokens: { 'identity-of-bob': 'bob' },
      anonymousPull: ['public/tricky'],
    });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
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

  it('401 → anonymous token → 200 on a public repository', async () => {
    const first = await fetch(manifestUrl('public/tricky'), { headers: { accept } });
    expect(first.status).toBe(401);
    const params = challengeParams(first.headers.get('www-authenticate'));
    expect(params).toEqual({
      realm: tokens.realm,
      service: tokens.service,
      scope: 'repository:public/tricky:pull',
    });

    const before = tokens.tokenRequestCount;
    const realm = new URL(params.realm!);
    realm.searchParams.set('service', params.service!);
    realm.searchParams.set('scope', params.scope!);
    const answer = (await (await fetch(realm)).json()) as Record<string, unknown>;
    expect(tokens.tokenRequestCount).toBe(before + 1);
    expect(tokens.lastAuthorization).toBeUndefined();
    expect(answer.token).toBe(answer.access_token);
    expect(answer.expires_in).toBe(300);
    expect(typeof answer.issued_at).toBe('string');

    const token = answer.token as string;
    expect(verifyJwt(token, tokens.certificate.publicKey, algorithm)).toBe(true);
    const { header, payload } = decodeJwt(token);
    expect(header.alg).toBe(algorithm);
    if (keyHeader === 'kid') expect(header.kid).toBe(tokens.certificate.keyId);
    else expect(header.x5c).toEqual([tokens.certificate.certDer.toString('base64')]);
    expect(payload).toMatchObject({
      iss: tokens.issuer,
      aud: tokens.service,
      sub: '',
      access: [{ type: 'repository', name: 'public/tricky', actions: ['pull'] }],
    });

    const second = await fetch(manifestUrl('public/tricky'), {
      headers: { accept, authorization: `Bearer ${token}` },
    });
    expect(second.status).toBe(200);
    await second.arrayBuffer();
  });

  it('an anonymous token does not open a private repository', async () => {
    const realm = `${tokens.realm}?service=${tokens.service}&scope=repository:private/tricky:pull`;
    const { token } = (await (await fetch(realm)).json()) as { token: string };
    expect(decodeJwt(token).payload.access).toEqual([]);
    const res = await fetch(manifestUrl('private/tricky'), {
      headers: { accept, authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('Basic credentials at the realm give a token for the private repository; wrong ones get 401', async () => {
    const realm = `${tokens.realm}?service=${tokens.service}&scope=repository:private/tricky:pull`;
    const wrong = await fetch(realm, { headers: { authorization: basic('bob', 'nope') } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('incorrect username or password');
    const right = await fetch(realm, { headers: { authorization: basic('bob', 'builder') } });
    expect(tokens.lastAuthorization).toBe(basic('bob', 'builder'));
    const { token } = (await right.json()) as { token: string };
    const res = await fetch(manifestUrl('private/tricky'), {
      headers: { accept, authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it('refresh_token and password grants by POST', async () => {
    const form = (fields: Record<string, string>) =>
      fetch(tokens.realm, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          service: tokens.service,
          scope: 'repository:private/tricky:pull',
          ...fields,
        }),
      });
    const refreshed = await form({
      grant_type: 'refresh_token',
      refresh_token: 'identity-of-bob',
      client_id: 't',
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };
    const res = await fetch(manifestUrl('private/tricky'), {
      headers: { accept, authorization: `Bearer ${access_token}` },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(tokens.requests.at(-1)).toMatchObject({ method: 'POST', grantType: 'refresh_token', user: 'bob' });

    expect((await form({ grant_type: 'refresh_token', refresh_token: 'unknown' })).status).toBe(401);
    const offline = await form({
      grant_type: 'password',
      username: 'bob',
      password: 'builder',
      access_type: 'offline',
    });
    const body = (await offline.json()) as { refresh_token: string };
    expect(typeof body.refresh_token).toBe('string');
    expect((await form({ grant_type: 'refresh_token', refresh_token: body.refresh_token })).status).toBe(200);
  });

  it('tokens minted past the registry leeway are refused with invalid_token', async () => {
    tokens.update({ lifetimeSeconds: -120 });
    try {
      const realm = `${tokens.realm}?service=${tokens.service}&scope=repository:public/tricky:pull`;
      const { token } = (await (await fetch(realm)).json()) as { token: string };
      const res = await fetch(manifestUrl('public/tricky'), {
        headers: { accept, authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    } finally {
      tokens.update({ lifetimeSeconds: undefined });
    }
  });

  it('a token from another signer is refused', async () => {
    const impostor = await startTokenServer({
      algorithm,
      keyHeader,
      anonymousPull: '*',
      service: tokens.service,
    });
    try {
      const realm = `${impostor.realm}?service=${impostor.service}&scope=repository:public/tricky:pull`;
      const { token } = (await (await fetch(realm)).json()) as { token: string };
      const res = await fetch(manifestUrl('public/tricky'), {
        headers: { accept, authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(401);
    } finally {
      await impostor.close();
    }
  });
});
