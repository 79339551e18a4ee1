import { describe, expect, it } from 'vitest';
import { type AuthChallenge, parseChallenges } from '../../../src/registry/challenge.js';

const cases: [string, string | string[] | undefined, AuthChallenge[]][] = [
  ['absent header', undefined, []],
  ['empty header', '', []],
  [
    'Docker Hub bearer',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/alpine:pull',
        },
      },
    ],
  ],
  [
    'case-insensitive scheme and keys',
    'BEARER Realm="https://r/token", SERVICE=svc',
    [{ scheme: 'bearer', params: { realm: 'https://r/token', service: 'svc' } }],
  ],
  [
    'basic with realm',
    'Basic realm="Registry Realm"',
    [{ scheme: 'basic', params: { realm: 'Registry Realm' } }],
  ],
  ['bare scheme', 'Basic', [{ scheme: 'basic', params: {} }]],
  [
    'comma inside quotes',
    'Bearer realm="https://r/t",scope="repository:a:pull,push"',
    [{ scheme: 'bearer', params: { realm: 'https://r/t', scope: 'repository:a:pull,push' } }],
  ],
  [
    'escaped quote and backslash inside quotes',
    'Basic realm="say \\"hi\\", a\\\\b"',
    [{ scheme: 'basic', params: { realm: 'say "hi", a\\b' } }],
  ],
  [
    'several challenges in one header',
    'Basic realm="x", Bearer realm="https://r/t",service="s"',
    [
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'https://r/t', service: 's' } },
    ],
  ],
  [
    'bare scheme followed by another challenge',
    'Negotiate, Bearer realm="https://r/t"',
    [
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { realm: 'https://r/t' } },
    ],
  ],
  [
    'several header values',
    ['Basic realm="a"', 'Bearer realm="https://r/t"'],
    [
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'https://r/t' } },
    ],
  ],
  [
    'token values and spaces around =',
    'Bearer realm = https://r/t , service = svc , error=invalid_token',
    [{ scheme: 'bearer', params: { realm: 'https://r/t', service: 'svc', error: 'invalid_token' } }],
  ],
  ['token68', 'Negotiate YWJjZGVm==', [{ scheme: 'negotiate', params: {}, token68: 'YWJjZGVm==' }]],
  [
    'empty quoted value and repeated key keeps the first',
    'Bearer realm="", realm="https://other"',
    [{ scheme: 'bearer', params: { realm: '' } }],
  ],
  [
    'unterminated quote is lenient',
    'Bearer realm="https://r/t',
    [{ scheme: 'bearer', params: { realm: 'https://r/t' } }],
  ],
  ['leading commas and spaces', ' , ,Basic realm=x', [{ scheme: 'basic', params: { realm: 'x' } }]],
];

describe('parseChallenges', () => {
  it.each(cases)('%s', (_name, header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});
