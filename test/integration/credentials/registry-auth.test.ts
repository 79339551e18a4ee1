import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/parse.js';
import { type CredentialLookupEvent, defaultCredentials } from '../../../src/credentials/index.js';
import type { Logger } from '../../../src/log.js';
import { RedactingLogger } from '../../../src/redact.js';
import { RegistryClient } from '../../../src/registry/client.js';
import type { ImageReference } from '../../../src/registry/types.js';
import { failure } from '../../helpers/failure.js';
import { pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';
import { createFakeHelpers, type FakeHelpers } from '../../unit/credentials/fake-helpers.js';

const TRICKY = join(import.meta.dirname, '../../fixtures/images/mini-tricky/layout');
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A logger that keeps every line, to grep for secrets. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { lines, debug: record, info: record, warn: record, error: record };
}

interface Setup {
  home: string;
  env: Record<string, string>;
  events: CredentialLookupEvent[];
  log: Logger & { lines: string[] };
  client: RegistryClient;
}

/** A client whose credentials come from a real docker config dir (and optional starget config) in a temp home. */
async function clientWith(
  fake: FakeHelpers,
  dockerConfig: unknown,
  options: { configYaml?: string; secrets?: string[] } = {},
): Promise<Setup> {
  const home = await mkdtemp(join(tmpdir(), 'starget-auth-home-'));
  const dockerDir = join(home, 'docker');
  await mkdir(dockerDir);
  await writeFile(join(dockerDir, 'config.json'), JSON.stringify(dockerConfig));
  const env = { ...fake.env, DOCKER_CONFIG: dockerDir, XDG_CONFIG_HOME: join(home, 'xdg') };
  const events: CredentialLookupEvent[] = [];
  const log = recordingLogger();
  const config = options.configYaml
    ? parseConfigText(options.configYaml, join(home, 'config.yaml'))
    : undefined;
  const credentials = defaultCredentials({ env, homedir: home, config, onLookup: (e) => events.push(e) });
  const client = new RegistryClient({
    credentials,
    plainHttp: true,
    retry: { maxRetries: 0 },
    logger: new RedactingLogger(log, options.secrets ?? []),
  });
  return { home, env, events, log, client };
}

describe('helper-provided credentials against the real registry with htpasswd Basic auth', () => {
  let registry: RegistryServer;
  let fake: FakeHelpers;
  let pushedDigest: string;
  const homes: string[] = [];
  const image = (): ImageReference => ({ registry: registry.host, repository: 'private/tricky', tag: 'v1' });

  beforeAll(async () => {
    registry = await startRegistry({
      auth: { type: 'htpasswd', users: { alice: 'wonder land' }, realm: 'test' },
    });
    pushedDigest = (
      await pushLayout(registry.url, TRICKY, 'private/tricky', 'v1', {
        credentials: { username: 'alice', password: 'wonder land' },
      })
    ).digest;
    fake = await createFakeHelpers();
    await fake.addStore('good', { [registry.host]: { Username: 'alice', Secret: 'wonder land' } });
    await fake.addStore('wrong', { [registry.host]: { Username: 'alice', Secret: 'not the password' } });
  });
  afterAll(async () => {
    await registry?.close();
    await fake?.cleanup();
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });

  it('authenticates with a credHelpers answer, and never logs the password', async () => {
    const setup = await clientWith(
      fake,
      { credHelpers: { [registry.host]: 'good' } },
      { secrets: ['wonder land'] },
    );
    homes.push(setup.home);
    const resolved = await setup.client.getManifest(image());
    expect(resolved.indexDigest ?? resolved.digest).toBe(pushedDigest);
    expect(setup.events[0]).toMatchObject({ registry: registry.host, kind: 'basic' });
    expect(setup.events[0]!.source).toContain('credHelpers → docker-credential-good');
    expect(await fake.calls()).toContain(`good ${registry.host}`);
    const output = setup.log.lines.join('\n');
    expect(output).not.toContain('wonder land');
    expect(output).not.toContain(b64('alice:wonder land'));
  });

  it('authenticates with credsStore and with a base64 auths entry', async () => {
    for (const dockerConfig of [
      { credsStore: 'good' },
      { auths: { [`http://${registry.host}/v2/`]: { auth: b64('alice:wonder land') } } },
    ]) {
      const setup = await clientWith(fake, dockerConfig);
      homes.push(setup.home);
      const resolved = await setup.client.getManifest(image());
      expect(resolved.indexDigest ?? resolved.digest).toBe(pushedDigest);
    }
  });

  it('fails with E_AUTH for a wrong helper password and for anonymous access', async () => {
    for (const dockerConfig of [{ credHelpers: { [registry.host]: 'wrong' } }, {}]) {
      const setup = await clientWith(fake, dockerConfig);
      homes.push(setup.home);
      const error = await failure(setup.client.getManifest(image()));
      expect(error.code).toBe('E_AUTH');
      expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain('not the password');
    }
  });
});

describe('helper-provided credentials against the real registry with token auth', () => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  let fake: FakeHelpers;
  let pushedDigest: string;
  const homes: string[] = [];
  const image = (): ImageReference => ({ registry: registry.host, repository: 'private/tricky', tag: 'v1' });

  beforeAll(async () => {
    tokens = await startTokenServer({
      users: { bob: 'builder' },
      identityTokens: { 'identity-of-bob': 'bob' },
      anonymousPull: [],
    });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    pushedDigest = (
      await pushLayout(registry.url, TRICKY, 'private/tricky', 'v1', {
        credentials: { username: 'bob', password: 'builder' },
      })
    ).digest;
    fake = await createFakeHelpers();
    await fake.addStore('basic', { [registry.host]: { Username: 'bob', Secret: 'builder' } });
    await fake.addStore('idtoken', { [registry.host]: { Username: '<token>', Secret: 'identity-of-bob' } });
    await fake.addStore('bad', { [registry.host]: { Username: 'bob', Secret: 'wrong' } });
  });
  afterAll(async () => {
    await registry?.close();
    await tokens?.close();
    await fake?.cleanup();
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });

  it('gets a token with the Basic credentials a helper gives', async () => {
    const setup = await clientWith(
      fake,
      { credHelpers: { [registry.host]: 'basic' } },
      { secrets: ['builder'] },
    );
    homes.push(setup.home);
    const resolved = await setup.client.getManifest(image());
    expect(resolved.indexDigest ?? resolved.digest).toBe(pushedDigest);
    const asked = tokens.requests.at(-1)!;
    expect(asked).toMatchObject({ grantType: 'get', user: 'bob', status: 200 });
    expect(setup.log.lines.join('\n')).not.toContain('builder');
  });

  it('exchanges a helper identity token (<token>) with the refresh_token grant', async () => {
    const setup = await clientWith(
      fake,
      { credHelpers: { [registry.host]: 'idtoken' } },
      {
        secrets: ['identity-of-bob'],
      },
    );
    homes.push(setup.home);
    const resolved = await setup.client.getManifest(image());
    expect(resolved.indexDigest ?? resolved.digest).toBe(pushedDigest);
    expect(setup.events[0]).toMatchObject({ kind: 'identityToken' });
    expect(tokens.requests.at(-1)).toMatchObject({ method: 'POST', grantType: 'refresh_token', user: 'bob' });
    expect(setup.log.lines.join('\n')).not.toContain('identity-of-bob');
  });

  it("uses the config file's credential_helper before docker's config", async () => {
    const setup = await clientWith(
      fake,
      { credHelpers: { [registry.host]: 'bad' } },
      {
        configYaml: `registries:\n  "${registry.host}": { credential_helper: idtoken }\n`,
      },
    );
    homes.push(setup.home);
    const resolved = await setup.client.getManifest(image());
    expect(resolved.indexDigest ?? resolved.digest).toBe(pushedDigest);
    expect(setup.events[0]!.source).toContain('config file');
  });

  it('fails with E_AUTH when the helper gives a wrong password', async () => {
    const setup = await clientWith(fake, { credHelpers: { [registry.host]: 'bad' } });
    homes.push(setup.home);
    const error = await failure(setup.client.getManifest(image()));
    expect(error.code).toBe('E_AUTH');
  });
});
