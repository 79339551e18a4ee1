import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { nextRedirectHop } from '../../../src/registry/redirect.js';

const start = new URL('https://registry.example/v2/a/blobs/sha256:x');

describe('nextRedirectHop', () => {
  it.each([
    // location, status, method, url, method after, keepBody, keepAuthorization
    ['/v2/other', 307, 'GET', 'https://registry.example/v2/other', 'GET', true, true],
    ['https://registry.example:443/x', 302, 'GET', 'https://registry.example/x', 'GET', true, true],
    ['https://cdn.example/blob?sig=1', 307, 'GET', 'https://cdn.example/blob?sig=1', 'GET', true, false],
    ['https://registry.example:8443/x', 301, 'GET', 'https://registry.example:8443/x', 'GET', true, false],
    ['//cdn.example/y', 308, 'HEAD', 'https://cdn.example/y', 'HEAD', true, false],
    ['/result', 303, 'POST', 'https://registry.example/result', 'GET', false, true],
    ['/result', 303, 'HEAD', 'https://registry.example/result', 'HEAD', true, true],
    ['/again', 307, 'POST', 'https://registry.example/again', 'POST', true, true],
  ])('%s (%i, %s)', (location, status, method, url, nextMethod, keepBody, keepAuthorization) => {
    const hop = nextRedirectHop(start, location, status, method, start, false);
    expect(hop).toEqual({ url: new URL(url), method: nextMethod, keepBody, keepAuthorization });
  });

  it.each([
    ['ftp://files.example/x', false, /ftp: URL/],
    ['file:///etc/passwd', false, /file: URL/],
    ['http://registry.example/x', false, /from https to plain http/],
    ['http://[::1', false, /invalid location/],
  ])('refuses %s', (location, allowPlainHttp, message) => {
    try {
      nextRedirectHop(start, location, 302, 'GET', start, allowPlainHttp);
      expect.unreachable();
    } catch (error) {
      expect(StargzError.is(error)).toBe(true);
      expect((error as StargzError).code).toBe('E_PROTOCOL');
      expect((error as StargzError).message).toMatch(message);
    }
  });

  it('allows https → http with plain HTTP allowed, and never keeps Authorization across origins', () => {
    const hop = nextRedirectHop(start, 'http://registry.example/x', 302, 'GET', start, true);
    expect(hop.url.href).toBe('http://registry.example/x');
    expect(hop.keepAuthorization).toBe(false);
  });
});
