import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import {
  digestProblem,
  formatReference,
  isLoopbackRegistry,
  parseReference,
  referenceTarget,
  registryApiHost,
} from '../../../src/registry/reference.js';
import type { ImageReference } from '../../../src/registry/types.js';

const D = `sha256:${'a'.repeat(64)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

const valid: [string, ImageReference][] = [
  ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
  ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
  ['ns/x', { registry: 'docker.io', repository: 'ns/x', tag: 'latest' }],
  ['ns/x:v1', { registry: 'docker.io', repository: 'ns/x', tag: 'v1' }],
  ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
  ['index.docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
  ['registry-1.docker.io/ns/x', { registry: 'docker.io', repository: 'ns/x', tag: 'latest' }],
  ['docker.io/library/alpine:edge', { registry: 'docker.io', repository: 'library/alpine', tag: 'edge' }],
  ['localhost/x', { registry: 'localhost', repository: 'x', tag: 'latest' }],
  ['localhost:5000/x', { registry: 'localhost:5000', repository: 'x', tag: 'latest' }],
  ['localhost:5000/x:tag', { registry: 'localhost:5000', repository: 'x', tag: 'tag' }],
  ['127.0.0.1:5000/a/b/c:t', { registry: '127.0.0.1:5000', repository: 'a/b/c', tag: 't' }],
  ['[::1]:5000/x', { registry: '[::1]:5000', repository: 'x', tag: 'latest' }],
  ['host.tld/a/b:tag', { registry: 'host.tld', repository: 'a/b', tag: 'tag' }],
  ['ghcr.io/owner/repo', { registry: 'ghcr.io', repository: 'owner/repo', tag: 'latest' }],
  ['Host.TLD/a', { registry: 'Host.TLD', repository: 'a', tag: 'latest' }],
  ['myhost:443/a', { registry: 'myhost:443', repository: 'a', tag: 'latest' }],
  [`x@${D}`, { registry: 'docker.io', repository: 'library/x', digest: D }],
  [`x:tag@${D}`, { registry: 'docker.io', repository: 'library/x', tag: 'tag', digest: D }],
  [`host:5000/ns/repo:tag@${D}`, { registry: 'host:5000', repository: 'ns/repo', tag: 'tag', digest: D }],
  [`ghcr.io/a/b@${D512}`, { registry: 'ghcr.io', repository: 'a/b', digest: D512 }],
  ['a/b-c__d.e_f', { registry: 'docker.io', repository: 'a/b-c__d.e_f', tag: 'latest' }],
  ['a/b---c', { registry: 'docker.io', repository: 'a/b---c', tag: 'latest' }],
  ['x:Tag_1.2-rc', { registry: 'docker.io', repository: 'library/x', tag: 'Tag_1.2-rc' }],
  [`x:${'t'.repeat(128)}`, { registry: 'docker.io', repository: 'library/x', tag: 't'.repeat(128) }],
  [
    'sub.example.com:8443/deep/path/repo',
    { registry: 'sub.example.com:8443', repository: 'deep/path/repo', tag: 'latest' },
  ],
];

const invalid: [string, RegExp][] = [
  ['', /empty/],
  ['Alpine', /must be lowercase/],
  ['ns/UPPER', /"ns\/UPPER" must be lowercase/],
  ['host.tld/A/b', /must be lowercase/],
  ['x@sha256:abc', /64 lowercase hex/],
  [`x@sha256:${'A'.repeat(64)}`, /64 lowercase hex/],
  [`x@md5:${'a'.repeat(32)}`, /algorithm "md5" is not supported/],
  ['x@', /must look like sha256/],
  ['x@nocolon', /must look like sha256/],
  ['x:', /tag ""/],
  ['x:-bad', /tag "-bad"/],
  ['x:.bad', /tag ".bad"/],
  [`x:${'t'.repeat(129)}`, /tag "t+"/],
  ['x:ta g', /white space/],
  ['https://ghcr.io/a/b', /URL scheme/],
  ['/x', /registry host "" is not a valid host name|empty path component/],
  ['a//b', /empty path component/],
  ['a/b/', /empty path component/],
  ['host.tld/', /repository name is empty/],
  ['a/-b', /path component "-b"/],
  ['a/b_', /path component "b_"/],
  ['a/b..c', /path component "b..c"/],
  ['a/b___c', /path component "b___c"/],
  ['host.tld:99999/x', /port "99999"/],
  ['host.tld:abc/x', /port "abc"/],
  ['-host.tld/x', /host "-host.tld"/],
  ['[::1/x', /IPv6/],
  [`${'a'.repeat(256)}`, /longer than 255/],
  [':tag', /repository name is empty/],
];

describe('parseReference', () => {
  it.each(valid)('parses %s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it.each(invalid)('rejects %j', (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (error) {
      caught = error;
    }
    expect(StargzError.is(caught)).toBe(true);
    const error = caught as StargzError;
    expect(error.code).toBe('E_INVALID_REFERENCE');
    expect(error.message).toMatch(message);
  });
});

describe('formatReference', () => {
  it.each([
    ['alpine', 'docker.io/library/alpine:latest'],
    [`x:tag@${D}`, `docker.io/library/x:tag@${D}`],
    [`localhost:5000/x@${D}`, `localhost:5000/x@${D}`],
  ])('formats %s as %s', (input, output) => {
    expect(formatReference(parseReference(input))).toBe(output);
  });

  it('round-trips canonical forms', () => {
    for (const [input] of valid) {
      const parsed = parseReference(input);
      expect(parseReference(formatReference(parsed))).toEqual(parsed);
    }
  });
});

describe('referenceTarget', () => {
  it('prefers the digest over the tag', () => {
    expect(referenceTarget(parseReference(`x:tag@${D}`))).toBe(D);
    expect(referenceTarget(parseReference('x:tag'))).toBe('tag');
  });
});

describe('registryApiHost', () => {
  it.each([
    ['docker.io', 'registry-1.docker.io'],
    ['index.docker.io', 'registry-1.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
  ])('%s → %s', (registry, host) => {
    expect(registryApiHost(registry)).toBe(host);
  });
});

describe('isLoopbackRegistry', () => {
  it.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['[::1]:5000', true],
    ['registry.localhost:80', true],
    ['128.0.0.1', false],
    ['ghcr.io', false],
    ['localhost.example.com', false],
    ['[::2]:5000', false],
  ])('%s → %s', (registry, loopback) => {
    expect(isLoopbackRegistry(registry)).toBe(loopback);
  });
});

describe('digestProblem', () => {
  it('accepts sha256 and sha512 and names the problem otherwise', () => {
    expect(digestProblem(D)).toBeUndefined();
    expect(digestProblem(D512)).toBeUndefined();
    expect(digestProblem(`sha512:${'a'.repeat(64)}`)).toMatch(/128 lowercase hex/);
    expect(digestProblem('SHA256:abc')).toMatch(/malformed/);
  });
});
