import { describe, expect, it } from 'vitest';
import {
  canonicalHost,
  findCredentialKey,
  helperServerUrl,
  hostOfCredentialKey,
} from '../../../src/credentials/registry-host.js';

describe('hostOfCredentialKey', () => {
  it.each([
    ['https://index.docker.io/v1/', true, 'docker.io'],
    ['index.docker.io', true, 'docker.io'],
    ['docker.io', false, 'docker.io'],
    ['registry-1.docker.io', false, 'docker.io'],
    ['ghcr.io', false, 'ghcr.io'],
    ['GHCR.io', false, 'ghcr.io'],
    ['https://ghcr.io', false, 'ghcr.io'],
    ['http://localhost:5000/v2/', false, 'localhost:5000'],
    ['localhost:5000/', false, 'localhost:5000'],
    ['localhost:5000/v2', false, 'localhost:5000'],
    // a namespace key is not registry-wide in auth.json…
    ['quay.io/team', false, undefined],
    // …but docker's rule drops any path
    ['quay.io/team', true, 'quay.io'],
    ['', true, undefined],
  ])('%s (stripPath %s) → %s', (key, stripPath, expected) => {
    expect(hostOfCredentialKey(key, { stripPath })).toBe(expected);
  });
});

describe('findCredentialKey', () => {
  const table = {
    'https://index.docker.io/v1/': 1,
    'https://ghcr.io': 2,
    'localhost:5000': 3,
    'http://127.0.0.1:5001/v2/': 4,
    'quay.io/team': 5,
  };
  it.each([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'https://ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
    ['127.0.0.1:5001', 'http://127.0.0.1:5001/v2/'],
    ['localhost', undefined],
    ['localhost:5001', undefined],
    ['quay.io', undefined],
  ])('%s → %s', (registry, expected) => {
    expect(findCredentialKey(table, registry, { stripPath: false })).toBe(expected);
  });

  it('prefers the exact key over another spelling of the same host', () => {
    expect(findCredentialKey({ 'https://ghcr.io/': 1, 'ghcr.io': 2 }, 'ghcr.io', { stripPath: true })).toBe(
      'ghcr.io',
    );
  });
});

describe('helperServerUrl / canonicalHost', () => {
  it('uses the Docker Hub key for every Hub alias and the host otherwise', () => {
    expect(helperServerUrl('docker.io')).toBe('https://index.docker.io/v1/');
    expect(helperServerUrl('registry-1.docker.io')).toBe('https://index.docker.io/v1/');
    expect(helperServerUrl('Localhost:5000')).toBe('localhost:5000');
    expect(canonicalHost('INDEX.docker.io')).toBe('docker.io');
  });
});
