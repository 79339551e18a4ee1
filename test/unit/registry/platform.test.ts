import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import {
  availablePlatforms,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  selectPlatformManifest,
} from '../../../src/registry/platform.js';
import type { Descriptor, Platform } from '../../../src/registry/types.js';

const entry = (
  n: number,
  platform: Descriptor['platform'],
  annotations?: Record<string, string>,
): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100 + n,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

const index: Descriptor[] = [
  entry(1, { os: 'linux', architecture: 'amd64' }),
  entry(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
  entry(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
  entry(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  entry(5, { os: 'linux', architecture: 's390x' }),
  entry(
    6,
    { os: 'unknown', architecture: 'unknown' },
    { 'vnd.docker.reference.type': 'attestation-manifest' },
  ),
  entry(7, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
];

describe('hostPlatform', () => {
  it.each([
    ['x64', 'linux', { os: 'linux', architecture: 'amd64' }],
    ['arm64', 'linux', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['arm64', 'darwin', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['arm', 'linux', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['ia32', 'linux', { os: 'linux', architecture: '386' }],
    ['ppc64', 'linux', { os: 'linux', architecture: 'ppc64le' }],
    ['s390x', 'linux', { os: 'linux', architecture: 's390x' }],
    ['x64', 'win32', { os: 'windows', architecture: 'amd64' }],
  ])('%s on %s → %j', (arch, os, expected) => {
    expect(hostPlatform(arch, os)).toEqual(expected);
  });
});

describe('parsePlatform / formatPlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
  ])('%s', (text, platform) => {
    expect(parsePlatform(text)).toEqual(platform);
    expect(formatPlatform(parsePlatform(text))).toBe(text);
  });

  it.each(['linux', 'linux/', 'a/b/c/d', 'linux/amd 64', ''])('rejects %j with E_USAGE', (text) => {
    expect(() => parsePlatform(text)).toThrow(StargzError);
    try {
      parsePlatform(text);
    } catch (error) {
      expect((error as StargzError).code).toBe('E_USAGE');
    }
  });
});

describe('normalizePlatform', () => {
  it.each([
    [
      { os: 'Linux', architecture: 'x86_64' },
      { os: 'linux', architecture: 'amd64' },
    ],
    [
      { os: 'linux', architecture: 'aarch64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    [
      { os: 'linux', architecture: 'arm64', variant: '' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    [
      { os: 'linux', architecture: 'armhf' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
    [
      { os: 'linux', architecture: 'arm', variant: '7' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
  ] as [Platform, Platform][])('%j → %j', (input, output) => {
    expect(normalizePlatform(input)).toEqual(output);
  });
});

describe('platformMatches', () => {
  it.each([
    [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }, true],
    [
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
      true,
    ],
    [{ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }, true],
    [{ os: 'linux', architecture: 'arm64', variant: 'v9' }, { os: 'linux', architecture: 'arm64' }, false],
    [
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      false,
    ],
    [{ os: 'linux', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64' }, false],
    [{ os: 'linux', architecture: 'x86_64' }, { os: 'linux', architecture: 'amd64' }, true],
  ] as [Platform, Platform, boolean][])('want %j, have %j → %s', (want, have, matches) => {
    expect(platformMatches(want, have)).toBe(matches);
  });
});

describe('selectPlatformManifest', () => {
  it.each([
    ['linux/amd64', 1],
    ['linux/arm64', 4],
    ['linux/arm64/v8', 4],
    ['linux/arm/v7', 3],
    ['linux/arm/v6', 2],
    ['linux/arm', 3],
    ['linux/s390x', 5],
    ['windows/amd64', 7],
  ])('%s → entry %i', (platform, n) => {
    expect(selectPlatformManifest(index, parsePlatform(platform))?.digest).toBe(entry(n, undefined).digest);
  });

  it('prefers the exact variant among several matches', () => {
    const list = [
      entry(1, { os: 'linux', architecture: 'arm64', variant: 'v9' }),
      entry(2, { os: 'linux', architecture: 'arm64' }),
    ];
    expect(selectPlatformManifest(list, { os: 'linux', architecture: 'arm64' })?.digest).toBe(
      list[1]?.digest,
    );
  });

  it('returns undefined for a platform that is not there, and never picks attestations', () => {
    expect(selectPlatformManifest(index, parsePlatform('linux/riscv64'))).toBeUndefined();
    expect(selectPlatformManifest(index, { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
  });

  it('lists the available image platforms', () => {
    expect(availablePlatforms(index)).toEqual([
      'linux/amd64',
      'linux/arm/v6',
      'linux/arm/v7',
      'linux/arm64/v8',
      'linux/s390x',
      'windows/amd64',
    ]);
  });
});
