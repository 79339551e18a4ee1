import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/parse.js';
import {
  authJsonCredentials,
  authJsonPaths,
  type CredentialLookupEvent,
  chainProviders,
  createCredentialHelperRunner,
  defaultCredentials,
  dockerConfigCredentials,
  dockerConfigPath,
  parseCredentialFlag,
  staticCredential,
} from '../../../src/credentials/index.js';
import { StargzError } from '../../../src/errors.js';
import { createFakeHelpers, type FakeHelpers } from './fake-helpers.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

let fake: FakeHelpers;
let home: string;

beforeAll(async () => {
  fake = await createFakeHelpers();
  await fake.addStore('store', {
    'localhost:5000': { Username: 'store-user', Secret: 'store-pass' },
    'https://index.docker.io/v1/': { Username: '<token>', Secret: 'hub-identity' },
  });
  await fake.addStore('pass', { 'registry.example.com': { Username: 'pass-user', Secret: 'pass-secret' } });
  await fake.addStore('gcloud', { 'gcr.io': { Username: 'oauth2accesstoken', Secret: 'gcr-secret' } });
});
afterAll(async () => {
  await fake.cleanup();
});
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'starget-home-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function writeJson(path: string, value: unknown): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(value));
  return path;
}

describe('file locations', () => {
  it('finds config.json in $DOCKER_CONFIG or ~/.docker', () => {
    expect(dockerConfigPath({ env: { DOCKER_CONFIG: '/d' }, homedir: '/h' })).toBe('/d/config.json');
    expect(dockerConfigPath({ env: {}, homedir: '/h' })).toBe('/h/.docker/config.json');
  });
  it('uses $REGISTRY_AUTH_FILE alone, else the runtime then the config dir', () => {
    expect(
      authJsonPaths({ env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run' }, homedir: '/h' }),
    ).toEqual(['/a.json']);
    expect(authJsonPaths({ env: { XDG_RUNTIME_DIR: '/run/user/1' }, homedir: '/h' })).toEqual([
      '/run/user/1/containers/auth.json',
      '/h/.config/containers/auth.json',
    ]);
    expect(authJsonPaths({ env: { XDG_CONFIG_HOME: '/x' }, homedir: '/h' })).toEqual([
      '/x/containers/auth.json',
    ]);
  });
});

describe('dockerConfigCredentials (real config.json files)', () => {
  it('takes credHelpers[host] over credsStore over auths[host]', async () => {
    const path = await writeJson(join(home, 'docker', 'config.json'), {
      credHelpers: { 'registry.example.com': 'pass' },
      credsStore: 'store',
      auths: {
        'registry.example.com': { auth: b64('file-user:file-pass') },
        'localhost:5000': {},
        'https://other.example.com': { username: 'o', password: 'op' },
        'ghcr.io': { identitytoken: 'ghcr-idt' },
      },
    });
    const source = dockerConfigCredentials({
      path,
      helpers: createCredentialHelperRunner({ env: fake.env }),
    });
    expect(await source.lookup('registry.example.com')).toEqual({
      credential: { kind: 'basic', username: 'pass-user', password: 'pass-secret' },
      source: `docker config ${path} credHelpers → docker-credential-pass`,
    });
    expect(await source.get('localhost:5000')).toEqual({
      kind: 'basic',
      username: 'store-user',
      password: 'store-pass',
    });
    expect(await source.get('docker.io')).toEqual({ kind: 'identityToken', token: 'hub-identity' });
    // the store has nothing for these: the auths entry answers
    expect(await source.get('other.example.com')).toEqual({ kind: 'basic', username: 'o', password: 'op' });
    expect((await source.lookup('ghcr.io'))?.source).toBe(`docker config ${path} auths["ghcr.io"]`);
    expect(await source.get('ghcr.io')).toEqual({ kind: 'identityToken', token: 'ghcr-idt' });
    expect(await source.get('quay.io')).toBeUndefined();
  });

  it('reads Docker Hub under https://index.docker.io/v1/ for docker.io', async () => {
    const path = await writeJson(join(home, 'config.json'), {
      auths: { 'https://index.docker.io/v1/': { auth: b64('hub:hubpass') } },
    });
    const source = dockerConfigCredentials({
      path,
      helpers: createCredentialHelperRunner({ env: fake.env }),
    });
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(await source.get(host)).toEqual({ kind: 'basic', username: 'hub', password: 'hubpass' });
    }
  });

  it('has nothing when the file is missing and fails on a broken file', async () => {
    const helpers = createCredentialHelperRunner({ env: fake.env });
    const missing = dockerConfigCredentials({ path: join(home, 'nope', 'config.json'), helpers });
    expect(await missing.get('ghcr.io')).toBeUndefined();
    const broken = join(home, 'broken.json');
    await writeFile(broken, '{"auths": ');
    const error = await dockerConfigCredentials({ path: broken, helpers })
      .get('ghcr.io')
      .catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_CONFIG');
  });

  it('fails with E_AUTH when credsStore names a helper that is not installed', async () => {
    const path = await writeJson(join(home, 'config.json'), { credsStore: 'desktop' });
    const source = dockerConfigCredentials({
      path,
      helpers: createCredentialHelperRunner({ env: fake.env }),
    });
    const error = await source.get('ghcr.io').catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_AUTH');
  });
});

describe('authJsonCredentials', () => {
  it('reads auth.json files in order, with helpers, ignoring namespace-scoped keys', async () => {
    const first = await writeJson(join(home, 'run', 'containers', 'auth.json'), {
      auths: { 'quay.io/team': { auth: b64('team:tp') }, 'docker.io': { auth: b64('podhub:php') } },
    });
    const second = await writeJson(join(home, '.config', 'containers', 'auth.json'), {
      auths: { 'quay.io': { auth: b64('q:qp') }, 'docker.io': { auth: b64('shadowed:x') } },
      credHelpers: { 'gcr.io': 'gcloud' },
    });
    const source = authJsonCredentials({
      paths: [first, second, join(home, 'missing.json')],
      helpers: createCredentialHelperRunner({ env: fake.env }),
    });
    expect(await source.get('quay.io')).toEqual({ kind: 'basic', username: 'q', password: 'qp' });
    expect(await source.get('registry-1.docker.io')).toEqual({
      kind: 'basic',
      username: 'podhub',
      password: 'php',
    });
    expect(await source.lookup('gcr.io')).toEqual({
      credential: { kind: 'basic', username: 'oauth2accesstoken', password: 'gcr-secret' },
      source: `auth.json ${second} credHelpers → docker-credential-gcloud`,
    });
    expect(await source.get('ghcr.io')).toBeUndefined();
  });
});

describe('chainProviders and defaultCredentials', () => {
  it('follows flag > config file > docker config > auth.json > anonymous, and reports the source', async () => {
    const dockerDir = join(home, 'docker');
    await writeJson(join(dockerDir, 'config.json'), {
      auths: {
        'localhost:5000': { auth: b64('docker-user:docker-pass') },
        'registry.example.com': { auth: b64('docker-user:docker-pass') },
        'ghcr.io': { auth: b64('docker-user:docker-pass') },
      },
    });
    await writeJson(join(home, 'auth.json'), {
      auths: { 'ghcr.io': { auth: b64('pod:podpass') }, 'quay.io': { auth: b64('pod:podpass') } },
    });
    const config = parseConfigText(
      'registries:\n  registry.example.com: { credential_helper: pass }\n  localhost:5000: { username: cfg, password: cfgpass }\n',
      '/etc/starget.yaml',
    );
    const events: CredentialLookupEvent[] = [];
    const env = { ...fake.env, DOCKER_CONFIG: dockerDir, REGISTRY_AUTH_FILE: join(home, 'auth.json') };
    const withoutFlag = defaultCredentials({ config, env, homedir: home, onLookup: (e) => events.push(e) });
    expect(await withoutFlag.get('localhost:5000')).toEqual({
      kind: 'basic',
      username: 'cfg',
      password: 'cfgpass',
    });
    expect(await withoutFlag.get('registry.example.com')).toEqual({
      kind: 'basic',
      username: 'pass-user',
      password: 'pass-secret',
    });
    expect(await withoutFlag.get('ghcr.io')).toEqual({
      kind: 'basic',
      username: 'docker-user',
      password: 'docker-pass',
    });
    expect(await withoutFlag.get('quay.io')).toEqual({ kind: 'basic', username: 'pod', password: 'podpass' });
    expect(await withoutFlag.get('public.example.com')).toBeUndefined();
    expect(events.map((e) => [e.registry, e.source.split(' ')[0], e.kind])).toEqual([
      ['localhost:5000', 'config', 'basic'],
      ['registry.example.com', 'config', 'basic'],
      ['ghcr.io', 'docker', 'basic'],
      ['quay.io', 'auth.json', 'basic'],
      ['public.example.com', 'anonymous', 'anonymous'],
    ]);
    expect(JSON.stringify(events)).not.toMatch(/pass-secret|cfgpass|docker-pass|podpass/);

    const withFlag = defaultCredentials({
      flagCredential: { username: 'f', password: 'fp' },
      config,
      env,
      homedir: home,
    });
    expect(await withFlag.lookup('localhost:5000')).toEqual({
      credential: { kind: 'basic', username: 'f', password: 'fp' },
      source: 'flag',
    });
  });

  it('stops at a source that fails instead of skipping it', async () => {
    const failing = staticCredential('a', 'b');
    const broken = {
      ...failing,
      name: 'broken',
      lookup: () => Promise.reject(new StargzError('E_AUTH', 'broken')),
    };
    const chain = chainProviders([broken, staticCredential('x', 'y')]);
    await expect(chain.get('h')).rejects.toThrow('broken');
  });
});

describe('staticCredential / parseCredentialFlag', () => {
  it('answers for any registry, or only the listed ones', async () => {
    expect(await staticCredential('u', 'p').get('any.io')).toEqual({
      kind: 'basic',
      username: 'u',
      password: 'p',
    });
    const scoped = staticCredential('u', 'p', { registries: ['docker.io'] });
    expect(await scoped.get('registry-1.docker.io')).toBeDefined();
    expect(await scoped.get('ghcr.io')).toBeUndefined();
  });
  it.each([
    ['user:pass', { username: 'user', password: 'pass' }],
    ['user:pa:ss', { username: 'user', password: 'pa:ss' }],
    ['user:', { username: 'user', password: '' }],
    ['user', undefined],
    [':pass', undefined],
  ])('%s', (flag, expected) => {
    expect(parseCredentialFlag(flag)).toEqual(expected);
  });
});
