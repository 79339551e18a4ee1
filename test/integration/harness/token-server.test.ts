import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificate, libtrustKeyId } from '../../helpers/certs.js';
import { decodeJwt } from '../../helpers/jwt.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';

describe('startTokenServer (without a registry)', () => {
  let tokens: TokenServer;
  beforeAll(async () => {
    tokens = await startTokenServer({ users: { u: 'p' }, anonymousPull: '*', expiresIn: 30 });
  });
  afterAll(() => tokens?.close());
  const get = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${tokens.realm}?service=${tokens.service}&${query}`, { headers });

  it('grants every requested scope, and only pull to anonymous clients', async () => {
    const anonymous = (await (
      await get('scope=repository:a:pull,push&scope=repository:b/c:pull')
    ).json()) as {
      token: string;
    };
    expect(decodeJwt(anonymous.token).payload.access).toEqual([
      { type: 'repository', name: 'a', actions: ['pull'] },
      { type: 'repository', name: 'b/c', actions: ['pull'] },
    ]);
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const user = (await (await get('scope=repository:a:pull,push', { authorization: auth })).json()) as {
      token: string;
    };
    const { payload } = decodeJwt(user.token);
    expect(payload.sub).toBe('u');
    expect(payload.access).toEqual([{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]);
    expect((payload.exp as number) - (payload.iat as number)).toBe(30);
    expect(payload.nbf as number).toBeLessThanOrEqual(payload.iat as number);
    expect(typeof payload.jti).toBe('string');
    expect(tokens.issued.at(-1)?.subject).toBe('u');
  });

  it('answers 400 for another service and records every request', async () => {
    const res = await fetch(`${tokens.realm}?service=other&scope=repository:a:pull`);
    expect(res.status).toBe(400);
    expect(tokens.requests.at(-1)).toMatchObject({
      service: 'other',
      status: 400,
      scopes: ['repository:a:pull'],
    });
  });

  it('failNext makes the next requests fail, then recovers', async () => {
    tokens.failNext(2, 503);
    expect((await get('scope=repository:a:pull')).status).toBe(503);
    expect((await get('scope=repository:a:pull')).status).toBe(503);
    expect((await get('scope=repository:a:pull')).status).toBe(200);
  });

  it('update() changes answers: fields and expires_in', async () => {
    tokens.update({ tokenFields: 'access_token', omitExpiresIn: true });
    try {
      const body = (await (await get('scope=repository:a:pull')).json()) as Record<string, unknown>;
      expect(body.token).toBeUndefined();
      expect(typeof body.access_token).toBe('string');
      expect(body.expires_in).toBeUndefined();
    } finally {
      tokens.update({ tokenFields: 'both', omitExpiresIn: false });
    }
  });

  it('revokeIssued marks tokens issued so far, not later ones', async () => {
    const old = ((await (await get('scope=repository:a:pull')).json()) as { token: string }).token;
    tokens.revokeIssued();
    const fresh = ((await (await get('scope=repository:a:pull')).json()) as { token: string }).token;
    expect(tokens.isRevoked(`Bearer ${old}`)).toBe(true);
    expect(tokens.isRevoked(fresh)).toBe(false);
    expect(tokens.isRevoked(undefined)).toBe(false);
    expect(tokens.challenge('repository:a:pull')).toBe(
      `Bearer realm="${tokens.realm}",service="${tokens.service}",scope="repository:a:pull"`,
    );
  });

  it('offline_token=true with credentials gives a refresh token', async () => {
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const body = (await (
      await get('scope=repository:a:pull&offline_token=true', { authorization: auth })
    ).json()) as {
      refresh_token?: string;
    };
    expect(body.refresh_token).toMatch(/^[\w-]{20,}$/);
  });
});

describe('libtrustKeyId', () => {
  it('has 12 groups of 4 base32 characters and differs per key', async () => {
    const [a, b] = await Promise.all([generateCertificate(), generateCertificate({ algorithm: 'RS256' })]);
    for (const cert of [a, b]) expect(cert.keyId).toMatch(/^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$/);
    expect(a.keyId).not.toBe(b.keyId);
    expect(libtrustKeyId(a.publicKey)).toBe(a.keyId);
  });
});
