import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.js';
import {
  REDACTED,
  RedactingLogger,
  redactFields,
  redactHeaders,
  redactText,
  redactUrl,
} from '../../src/redact.js';

describe('redactUrl', () => {
  it.each([
    [
      'https://registry.example.com/v2/a/b/blobs/sha256:ab',
      'https://registry.example.com/v2/a/b/blobs/sha256:ab',
    ],
    [
      'https://cdn.example.com/blob?X-Amz-Signature=abc&X-Amz-Credential=AKIA',
      `https://cdn.example.com/blob?${REDACTED}`,
    ],
    ['https://user:pw@host.example/v2/', 'https://host.example/v2/'],
    ['http://127.0.0.1:5000/token?scope=x#frag', `http://127.0.0.1:5000/token?${REDACTED}`],
    ['not a url?token=abc', `not a url?${REDACTED}`],
    ['//user:pw@host/x?sig=1', `//host/x?${REDACTED}`],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('accepts URL objects', () => {
    expect(redactUrl(new URL('https://a:b@h.io/p?q=1'))).toBe(`https://h.io/p?${REDACTED}`);
  });
});

describe('redactHeaders', () => {
  it('replaces credentials keeping the scheme, strips signed URLs, keeps the rest', () => {
    const out = redactHeaders({
      Authorization: 'Bearer eyJhbGciOi.secretpart.sig',
      'Proxy-Authorization': 'Basic dXNlcjpwYXNz',
      Cookie: 'session=abc',
      'Set-Cookie': ['a=1', 'b=2'],
      'X-Amz-Security-Token': 'FQoGZXIvYXdz',
      Location: 'https://bucket.s3.amazonaws.com/blob?X-Amz-Signature=deadbeef',
      'WWW-Authenticate': 'Bearer realm="https://auth.example/token",service="reg"',
      'Content-Length': 42,
      'X-Empty': undefined,
    });
    expect(out).toEqual({
      authorization: `Bearer ${REDACTED}`,
      'proxy-authorization': `Basic ${REDACTED}`,
      cookie: REDACTED,
      'set-cookie': REDACTED,
      'x-amz-security-token': REDACTED,
      location: `https://bucket.s3.amazonaws.com/blob?${REDACTED}`,
      'www-authenticate': 'Bearer realm="https://auth.example/token",service="reg"',
      'content-length': '42',
    });
  });

  it('takes a Headers object or entries', () => {
    const headers = new Headers({ authorization: 'Basic Zm9vOmJhcg==', accept: 'application/json' });
    expect(redactHeaders(headers)).toEqual({
      authorization: `Basic ${REDACTED}`,
      accept: 'application/json',
    });
    expect(redactHeaders([['Authorization', 'opaque']])).toEqual({ authorization: REDACTED });
  });
});

describe('redactText', () => {
  it.each([
    ['GET with Authorization: Bearer abc.def-ghi_123', `GET with Authorization: Bearer ${REDACTED}`],
    ['Basic dXNlcjpwYXNzd29yZA==', `Basic ${REDACTED}`],
    ['jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln end', `jwt ${REDACTED} end`],
    [
      'redirect to https://s3.example/b?X-Amz-Signature=1 now',
      `redirect to https://s3.example/b?${REDACTED} now`,
    ],
    ['proxy http://u:p@proxy.local:3128/', 'proxy http://proxy.local:3128/'],
    ['{"token":"abc123","expires_in":60}', `{"token":"${REDACTED}","expires_in":60}`],
    ['access_token=xyz&scope=pull', `access_token=${REDACTED}&scope=pull`],
    ['password: hunter2', `password: ${REDACTED}`],
    ['auth_type: token', 'auth_type: token'],
    ['scope=repository:library/alpine:pull', 'scope=repository:library/alpine:pull'],
  ])('%s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it('removes known secrets and their encoded forms, longest first', () => {
    const secret = 'p@ss w0rd!';
    const text = `raw ${secret} url ${encodeURIComponent(secret)} b64 ${Buffer.from(secret).toString('base64')}`;
    const out = redactText(text, [secret, 'p@ss']);
    expect(out).not.toContain('p@ss');
    expect(out).not.toContain(encodeURIComponent(secret));
    expect(out).not.toContain(Buffer.from(secret).toString('base64').replace(/=+$/, ''));
    expect(out).toMatch(/^raw <redacted> url <redacted> b64 <redacted>=*$/);
  });

  it('ignores secrets too short to search for', () => {
    expect(redactText('a b c', ['a', ''])).toBe('a b c');
  });
});

describe('redactFields', () => {
  it('scrubs secret-named fields, strings, URLs, headers and errors, deeply', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const out = redactFields(
      {
        url: new URL('https://h.io/x?sig=abc'),
        password: 'hunter2',
        token: 'opaque',
        headers: { Authorization: 'Bearer xyz' },
        nested: { list: ['my-known-secret', { secret: 's' }], note: 'with my-known-secret inside' },
        error: Object.assign(new Error('failed with my-known-secret'), { code: 'E_AUTH' }),
        bytes: new Uint8Array(3),
        cyclic,
        count: 3,
        ok: true,
        nothing: null,
      },
      ['my-known-secret'],
    );
    expect(out).toEqual({
      url: `https://h.io/x?${REDACTED}`,
      password: REDACTED,
      token: REDACTED,
      headers: { authorization: `Bearer ${REDACTED}` },
      nested: { list: [REDACTED, { secret: REDACTED }], note: `with ${REDACTED} inside` },
      error: { name: 'Error', message: `failed with ${REDACTED}`, code: 'E_AUTH' },
      bytes: '<3 bytes>',
      cyclic: { name: 'loop', self: '[…]' },
      count: 3,
      ok: true,
      nothing: null,
    });
  });
});

describe('RedactingLogger', () => {
  it('scrubs every message and field at every level, including secrets added later', () => {
    const lines: string[] = [];
    const record =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void => {
        lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
      };
    const inner: Logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const logger = new RedactingLogger(inner, ['initial-secret']);
    logger.debug('sending initial-secret', { header: 'Authorization: Bearer tok-123456' });
    logger.addSecret('fetched-token-value');
    logger.info('got fetched-token-value');
    logger.warn('redirect', { location: 'https://cdn.example/b?X-Amz-Signature=s1gn' });
    logger.error('failed', { password: 'pw-value', err: new Error('initial-secret rejected') });
    logger.addSecret(undefined);
    const all = lines.join('\n');
    for (const secret of ['initial-secret', 'tok-123456', 'fetched-token-value', 's1gn', 'pw-value']) {
      expect(all).not.toContain(secret);
    }
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^debug sending <redacted>/);
    expect(lines[2]).toContain('https://cdn.example/b?<redacted>');
  });
});
