import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configFileCandidates, loadConfig } from '../../../src/config/load.js';
import { StargzError } from '../../../src/errors.js';

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'starget-config-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function put(path: string, text: string, mode = 0o600): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

describe('configFileCandidates', () => {
  it('--config wins, then $STARGET_CONFIG, then XDG then the legacy file', () => {
    const env = { STARGET_CONFIG: 'env.yaml', XDG_CONFIG_HOME: '/xdg' };
    expect(configFileCandidates({ argvConfigPath: 'my.yaml', env, homedir: '/h', cwd: '/w' })).toEqual([
      { path: '/w/my.yaml', origin: 'flag', required: true },
    ]);
    expect(configFileCandidates({ env, homedir: '/h', cwd: '/w' })).toEqual([
      { path: '/w/env.yaml', origin: 'env', required: true },
    ]);
    expect(configFileCandidates({ env: { XDG_CONFIG_HOME: '/xdg' }, homedir: '/h' })).toEqual([
      { path: '/xdg/starget/config.yaml', origin: 'xdg', required: false },
      { path: '/h/.stargz-get/config.yaml', origin: 'legacy', required: false },
    ]);
    expect(configFileCandidates({ env: {}, homedir: '/h' })[0]!.path).toBe('/h/.config/starget/config.yaml');
  });
});

describe('loadConfig (real files)', () => {
  it('is empty without any file', async () => {
    const loaded = await loadConfig({ env: {}, homedir: home });
    expect(loaded).toEqual({ config: { defaults: {}, defaultLines: {}, registries: [] }, warnings: [] });
  });

  it('reads the XDG file and warns that a legacy file is ignored', async () => {
    const xdg = await put(join(home, '.config', 'starget', 'config.yaml'), 'defaults: { concurrency: 9 }\n');
    const legacy = await put(join(home, '.stargz-get', 'config.yaml'), 'defaults: { concurrency: 2 }\n');
    const loaded = await loadConfig({ env: {}, homedir: home });
    expect(loaded.origin).toBe('xdg');
    expect(loaded.config.path).toBe(xdg);
    expect(loaded.config.defaults.concurrency).toBe(9);
    expect(loaded.warnings).toEqual([expect.stringContaining(`ignoring ${legacy}`)]);
  });

  it("falls back to the original tool's ~/.stargz-get/config.yaml", async () => {
    await put(join(home, '.stargz-get', 'config.yaml'), 'defaults: { max_retries: 7, cache_dir: ~/c }\n');
    const loaded = await loadConfig({ env: { XDG_CONFIG_HOME: join(home, 'xdg') }, homedir: home });
    expect(loaded.origin).toBe('legacy');
    expect(loaded.config.defaults).toEqual({ maxRetries: 7, cacheDir: join(home, 'c') });
  });

  it('uses $STARGET_CONFIG and --config, and fails when the named file is missing', async () => {
    const a = await put(join(home, 'a.yaml'), 'defaults: { concurrency: 3 }\n');
    const b = await put(join(home, 'b.yaml'), 'defaults: { concurrency: 5 }\n');
    expect(
      (await loadConfig({ env: { STARGET_CONFIG: a }, homedir: home })).config.defaults.concurrency,
    ).toBe(3);
    const both = await loadConfig({ argvConfigPath: b, env: { STARGET_CONFIG: a }, homedir: home });
    expect(both.config.defaults.concurrency).toBe(5);
    expect(both.origin).toBe('flag');
    for (const options of [
      { argvConfigPath: join(home, 'none.yaml'), env: {}, homedir: home },
      { env: { STARGET_CONFIG: join(home, 'none.yaml') }, homedir: home },
    ]) {
      const error = await loadConfig(options).catch((e: unknown) => e);
      expect(StargzError.is(error) && error.code).toBe('E_CONFIG');
      expect((error as Error).message).toContain('none.yaml');
      expect((error as Error).message).toContain('does not exist');
    }
  });

  it('reports an invalid file with its path and line', async () => {
    const path = await put(join(home, 'bad.yaml'), 'defaults:\n  concurrency: 4\n  colour: true\n');
    const error = await loadConfig({ argvConfigPath: path, env: {}, homedir: home }).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_CONFIG');
    expect((error as Error).message).toContain(`${path}:3: defaults.colour: unknown key`);
  });

  it('warns when a file holding a password is readable by group or others', async () => {
    const text = 'registries:\n  r.example.com: { username: u, password: p }\n';
    const open = await put(join(home, 'open.yaml'), text, 0o644);
    const warned = await loadConfig({ argvConfigPath: open, env: {}, homedir: home });
    expect(warned.warnings).toEqual([expect.stringContaining(`chmod 600 ${open}`)]);
    expect(warned.warnings.join()).not.toContain(': p');

    const closed = await put(join(home, 'closed.yaml'), text, 0o600);
    expect((await loadConfig({ argvConfigPath: closed, env: {}, homedir: home })).warnings).toEqual([]);

    const noPassword = await put(
      join(home, 'nopass.yaml'),
      'registries:\n  r.io: { plain_http: true }\n',
      0o644,
    );
    expect((await loadConfig({ argvConfigPath: noPassword, env: {}, homedir: home })).warnings).toEqual([]);
  });
});
