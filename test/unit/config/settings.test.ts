import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/parse.js';
import { maskRegistryConfig, settingsForRegistry } from '../../../src/config/registries.js';
import {
  defaultSettings,
  hostPlatform,
  resolveSettings,
  type Settings,
  settingValues,
} from '../../../src/config/settings.js';
import { StargzError } from '../../../src/errors.js';

const defaults = defaultSettings({ env: {}, homedir: '/home/u', arch: 'x64' });
const file = parseConfigText(
  'defaults:\n  concurrency: 6\n  platform: linux/arm64\n  no_progress: true\n  timeout: 10s\n',
  '/etc/starget.yaml',
);

describe('resolveSettings precedence: flags > env > file > defaults', () => {
  it.each<[string, Partial<Settings>, Record<string, string>, keyof Settings, unknown, string, string?]>([
    ['default only', {}, {}, 'maxRetries', 3, 'default'],
    ['file over default', {}, {}, 'concurrency', 6, 'file:/etc/starget.yaml', '/etc/starget.yaml:2'],
    ['env over file', {}, { STARGET_CONCURRENCY: '12' }, 'concurrency', 12, 'env', 'STARGET_CONCURRENCY'],
    ['flag over env', { concurrency: 2 }, { STARGET_CONCURRENCY: '12' }, 'concurrency', 2, 'flag'],
    [
      'env false over file true',
      {},
      { STARGET_NO_PROGRESS: 'false' },
      'noProgress',
      false,
      'env',
      'STARGET_NO_PROGRESS',
    ],
    [
      'flag false over env true',
      { noProgress: false },
      { STARGET_NO_PROGRESS: '1' },
      'noProgress',
      false,
      'flag',
    ],
    [
      'env platform',
      {},
      { STARGET_PLATFORM: 'linux/arm/v6' },
      'platform',
      'linux/arm/v6',
      'env',
      'STARGET_PLATFORM',
    ],
    ['file platform', {}, {}, 'platform', 'linux/arm64', 'file:/etc/starget.yaml', '/etc/starget.yaml:3'],
    ['env duration', {}, { STARGET_TIMEOUT: '2m' }, 'timeoutMs', 120_000, 'env', 'STARGET_TIMEOUT'],
    ['file duration', {}, {}, 'timeoutMs', 10_000, 'file:/etc/starget.yaml', '/etc/starget.yaml:5'],
    ['env cache dir', {}, { STARGET_CACHE_DIR: '/tmp/c' }, 'cacheDir', '/tmp/c', 'env', 'STARGET_CACHE_DIR'],
    ['default cache dir', {}, {}, 'cacheDir', '/home/u/.cache/starget', 'default'],
    ['debug from env', {}, { STARGET_DEBUG: 'yes' }, 'debug', true, 'env', 'STARGET_DEBUG'],
    [
      'empty env is unset',
      {},
      { STARGET_CONCURRENCY: '' },
      'concurrency',
      6,
      'file:/etc/starget.yaml',
      '/etc/starget.yaml:2',
    ],
    ['plain http env', {}, { STARGET_PLAIN_HTTP: 'on' }, 'plainHttp', true, 'env', 'STARGET_PLAIN_HTTP'],
    ['insecure env', {}, { STARGET_INSECURE: 'TRUE' }, 'insecure', true, 'env', 'STARGET_INSECURE'],
    ['max retries env 0', {}, { STARGET_MAX_RETRIES: '0' }, 'maxRetries', 0, 'env', 'STARGET_MAX_RETRIES'],
  ])('%s', (_name, flags, env, key, value, source, origin) => {
    const effective = resolveSettings({ flags, env, config: file, defaults });
    expect(effective[key]).toEqual(origin === undefined ? { value, source } : { value, source, origin });
  });

  it('yields every setting, and plain values with settingValues', () => {
    const effective = resolveSettings({ env: {}, defaults });
    expect(settingValues(effective)).toEqual(defaults);
    expect(Object.values(effective).every((v) => v.source === 'default')).toBe(true);
  });

  it.each([
    ['STARGET_CONCURRENCY', 'many'],
    ['STARGET_CONCURRENCY', '0'],
    ['STARGET_MAX_RETRIES', '-1'],
    ['STARGET_NO_PROGRESS', 'maybe'],
    ['STARGET_PLATFORM', 'amd64'],
    ['STARGET_TIMEOUT', 'soon'],
  ])('rejects %s=%s naming the variable', (variable, text) => {
    let caught: unknown;
    try {
      resolveSettings({ env: { [variable]: text }, defaults });
    } catch (error) {
      caught = error;
    }
    expect(StargzError.is(caught) && caught.code).toBe('E_CONFIG');
    expect((caught as Error).message).toContain(variable);
  });
});

describe('defaultSettings / hostPlatform', () => {
  it.each([
    ['x64', 'linux/amd64'],
    ['arm64', 'linux/arm64'],
    ['arm', 'linux/arm/v7'],
    ['ia32', 'linux/386'],
    ['ppc64', 'linux/ppc64le'],
    ['s390x', 'linux/s390x'],
  ])('%s → %s', (arch, platform) => {
    expect(hostPlatform(arch)).toBe(platform);
  });
  it('puts the cache under $XDG_CACHE_HOME', () => {
    expect(defaultSettings({ env: { XDG_CACHE_HOME: '/xc' }, homedir: '/h' }).cacheDir).toBe('/xc/starget');
  });
});

describe('settingsForRegistry', () => {
  const config = parseConfigText(
    [
      'defaults: { insecure: true }',
      'registries:',
      '  localhost:5000: { plain_http: true }',
      '  docker.io: { auth_type: token, credential_helper: pass, insecure: false }',
      '  r.example.com: { username: u, password: hunter2 }',
    ].join('\n'),
    '/c.yaml',
  );

  it('uses the registry entry over file defaults, and flags/env over both', () => {
    const effective = resolveSettings({ env: {}, config, defaults });
    const local = settingsForRegistry(effective, config, 'LOCALHOST:5000');
    expect(local.plainHttp).toEqual({ value: true, source: 'file:/c.yaml', origin: '/c.yaml:3' });
    expect(local.insecure).toEqual({ value: true, source: 'file:/c.yaml', origin: '/c.yaml:1' });
    expect(local.authType).toEqual({ value: 'auto', source: 'default' });

    const hub = settingsForRegistry(effective, config, 'registry-1.docker.io');
    expect(hub.insecure).toEqual({ value: false, source: 'file:/c.yaml', origin: '/c.yaml:4' });
    expect(hub.authType.value).toBe('token');
    expect(hub.credentialHelper?.value).toBe('pass');

    const other = settingsForRegistry(effective, config, 'ghcr.io');
    expect(other.plainHttp).toEqual({ value: false, source: 'default' });

    const flagged = resolveSettings({
      flags: { plainHttp: false },
      env: { STARGET_INSECURE: '1' },
      config,
      defaults,
    });
    const overridden = settingsForRegistry(flagged, config, 'localhost:5000');
    expect(overridden.plainHttp).toEqual({ value: false, source: 'flag' });
    expect(settingsForRegistry(flagged, config, 'docker.io').insecure).toEqual({
      value: true,
      source: 'env',
      origin: 'STARGET_INSECURE',
    });
  });

  it('masks a stored password for display', () => {
    const entry = config.registries.find((r) => r.host === 'r.example.com')!;
    expect(maskRegistryConfig(entry)).toMatchObject({ username: 'u', password: '********' });
    expect(entry.password).toBe('hunter2');
  });
});
