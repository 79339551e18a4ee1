/**
 * End to end: the built CLI as a child process against the real registry, with the fixture images pushed.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffManifest, type ManifestRow, readManifestTsv } from '../helpers/manifest-tsv.js';
import { pushLayout } from '../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../helpers/registry-server.js';
import { comparableExpected, ensureBuilt, linkHardlinks, ROOT, runStarget, scanTree } from './cli-harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'images');
const IMAGES = [
  'mini-tricky',
  'mini-docker',
  'mini-evil',
  'mini-multi',
  'mini-legacy',
  'mini-prefetch',
  'mini-plain',
];
const TRICKY_LAYERS = [
  'sha256:5df09cb3abfb83bd5d041c220bd1ed4a1483d0711f19b8de51a929c034353523',
  'sha256:53da6db73a4be21f4870e5c407a0ffed48db88d4fd7fc15d63ffb71889955a45',
  'sha256:5bce0906cb255034f71682e86a18b4e836d880d262587ba718be0e97644a9cb4',
];

let registry: RegistryServer;
let work: string;
const image = (name: string) => `${registry.host}/fixtures/${name}:v1`;
const oracle = (name: string, platform?: string) =>
  readManifestTsv(join(FIXTURES, name, 'expected', ...(platform ? [platform] : []), 'manifest.tsv'));
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function expectTreeMatches(dir: string, expectedRows: ManifestRow[]): Promise<void> {
  const actual = await scanTree(dir);
  await linkHardlinks(dir, expectedRows, actual);
  expect(diffManifest(comparableExpected(expectedRows, actual), actual)).toEqual([]);
}

async function freshDir(name: string): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  await Promise.all(
    IMAGES.map((name) => pushLayout(registry.url, join(FIXTURES, name, 'layout'), `fixtures/${name}`, 'v1')),
  );
  work = await mkdtemp(join(tmpdir(), 'starget-e2e-'));
}, 120_000);

afterAll(async () => {
  await registry?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('get IMAGE / -o DIR matches the oracle', () => {
  it.each([
    ['mini-tricky', undefined, undefined],
    ['mini-docker', undefined, undefined],
    ['mini-legacy', undefined, undefined],
    ['mini-prefetch', undefined, undefined],
    ['mini-evil', undefined, undefined],
    ['mini-multi', 'linux/amd64', 'linux-amd64'],
    ['mini-multi', 'linux/arm64', 'linux-arm64'],
  ])('%s %s', async (name, platform, oracleDir) => {
    const out = await freshDir(`all-${name}-${oracleDir ?? ''}`);
    const args = ['get', image(name), '/', '-o', out, ...(platform ? ['--platform', platform] : [])];
    const run = await runStarget(args);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBe(0);
    await expectTreeMatches(out, oracle(name, oracleDir));
  });
});

describe('get forms', () => {
  const rows = () => oracle('mini-tricky');
  const rowOf = (path: string) => rows().find((r) => r.path === path)!;

  it('writes a single file to OUTPUT (the original form)', async () => {
    const dir = await freshDir('single');
    const run = await runStarget(['get', image('mini-tricky'), 'big/random-300K', 'copy.bin'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(await readdir(dir)).toEqual(['copy.bin']);
    expect(sha256(await readFile(join(dir, 'copy.bin')))).toBe(rowOf('big/random-300K').sha256);
  });

  it('writes a single file into OUTPUT when it is a directory, and into the current directory by default', async () => {
    const dir = await freshDir('single-into');
    await mkdir(join(dir, 'existing'));
    expect(
      (await runStarget(['get', image('mini-tricky'), '/app/main.sh', 'existing'], { cwd: dir })).code,
    ).toBe(0);
    expect(await readdir(join(dir, 'existing'))).toEqual(['main.sh']);
    expect((await runStarget(['get', image('mini-tricky'), 'etc/passwd'], { cwd: dir })).code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['existing', 'passwd']);
    const mode = (await lstat(join(dir, 'existing', 'main.sh'))).mode & 0o7777;
    expect(mode.toString(8)).toBe(rowOf('app/main.sh').mode.replace(/^0/, ''));
  });

  it('get -L writes what a symlink leads to (file or directory) under the link name', async () => {
    const dir = await freshDir('dereference');
    const file = await runStarget(['get', image('mini-legacy'), 'data/link', 'copy', '-L'], { cwd: dir });
    expect(file.code, file.stderr).toBe(0);
    const copy = await lstat(join(dir, 'copy'));
    expect(copy.isFile()).toBe(true);
    expect(sha256(await readFile(join(dir, 'copy')))).toBe(
      oracle('mini-legacy').find((r) => r.path === 'data/random-200K')!.sha256,
    );
    const tree = await runStarget(
      ['get', image('mini-tricky'), 'links/dirlink', '-o', 'out', '--dereference'],
      {
        cwd: dir,
      },
    );
    expect(tree.code, tree.stderr).toBe(0);
    const linked = (await scanTree(join(dir, 'out'))).filter((r) => r.path.startsWith('links/dirlink/'));
    const nested = rows().filter((r) => r.path.startsWith('data/nested/'));
    expect(linked.map((r) => r.path)).toEqual(
      nested.map((r) => r.path.replace('data/nested/', 'links/dirlink/')),
    );
    expect(linked.map((r) => r.sha256)).toEqual(nested.map((r) => r.sha256));
  });

  it('writes a directory pattern under OUTPUT at its path in the image', async () => {
    const dir = await freshDir('dir');
    const run = await runStarget(['get', image('mini-tricky'), 'data/nested', join(dir, 'out')]);
    expect(run.code).toBe(0);
    const expected = rows().filter((r) => r.path === 'data/nested' || r.path.startsWith('data/nested/'));
    const actual = (await scanTree(join(dir, 'out'))).filter((r) => r.path.startsWith('data/nested'));
    expect(actual.map((r) => r.path)).toEqual(expected.map((r) => r.path));
    expect(actual.map((r) => r.sha256)).toEqual(expected.map((r) => r.sha256));
  });

  it('takes several patterns and globs with -o', async () => {
    const dir = await freshDir('multi');
    const run = await runStarget([
      'get',
      image('mini-tricky'),
      'big/*-1',
      'bin/',
      'app/config.json',
      '-o',
      dir,
    ]);
    expect(run.code).toBe(0);
    const paths = (await scanTree(dir)).filter((r) => r.type !== 'dir').map((r) => r.path);
    expect(paths).toEqual([
      'app/config.json',
      'big/64K-minus-1',
      'big/64K-plus-1',
      'bin/sgid-tool',
      'bin/suid-tool',
    ]);
    for (const path of paths) expect(sha256(await readFile(join(dir, path)))).toBe(rowOf(path).sha256);
  });

  it('restricts to one layer by a positional BLOB_DIGEST or --layer', async () => {
    const dir = await freshDir('layer');
    // layer 1 still has the 65535-byte big/64K-minus-1 that layer 3 replaced
    const run = await runStarget([
      'get',
      image('mini-tricky'),
      TRICKY_LAYERS[0]!,
      'big/64K-minus-1',
      join(dir, 'old'),
    ]);
    expect(run.code).toBe(0);
    expect((await lstat(join(dir, 'old'))).size).toBe(65535);
    const top = await runStarget([
      'get',
      image('mini-tricky'),
      'app/',
      '-o',
      join(dir, 'top'),
      '--layer',
      TRICKY_LAYERS[2]!,
    ]);
    expect(top.code).toBe(0);
    expect((await readdir(join(dir, 'top', 'app'))).sort()).toEqual(['config.json', 'main.sh']);
    const missing = await runStarget([
      'get',
      image('mini-tricky'),
      TRICKY_LAYERS[2]!,
      'bin/',
      join(dir, 'none'),
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/bin/);
  });

  it('exits 3 naming a pattern that matches nothing, and 2 for bad usage', async () => {
    const dir = await freshDir('nothing');
    const run = await runStarget(['get', image('mini-tricky'), 'no/such/file', '-o', dir]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no/such/file');
    expect(await readdir(dir)).toEqual([]);
    expect((await runStarget(['get', image('mini-tricky'), 'a', 'b', 'c'])).code).toBe(2);
    const tag = await runStarget(['info', `${registry.host}/fixtures/mini-tricky:nope`]);
    expect(tag.code).toBe(3);
  });
});

describe('safety and integrity', () => {
  it('writes nothing outside the output directory for the hostile image', async () => {
    const sandbox = await freshDir('evil-sandbox');
    const tmpBefore = new Set(await readdir('/tmp'));
    const run = await runStarget(['get', image('mini-evil'), '/', '-o', join(sandbox, 'out')], {
      cwd: sandbox,
    });
    expect(run.code).toBe(0);
    expect(await readdir(sandbox)).toEqual(['out']);
    expect(await readdir(work)).toContain('evil-sandbox');
    for (const name of ['pwned', 'pwned2', 'escape', 'escape2', 'abs-escape']) {
      if (!tmpBefore.has(name)) expect(existsSync(join('/tmp', name))).toBe(false);
      expect(existsSync(join(work, name))).toBe(false);
    }
    expect((await lstat(join(sandbox, 'out', 'evil-link'))).isDirectory()).toBe(true);
  });

  it('refuses to write through a symlink already in the output directory (exit 8)', async () => {
    const dir = await freshDir('pre-symlink');
    const outside = await freshDir('pre-symlink-target');
    await mkdir(join(dir, 'out'));
    const { symlink } = await import('node:fs/promises');
    await symlink(outside, join(dir, 'out', 'app'));
    const run = await runStarget(['get', image('mini-tricky'), 'app/main.sh', '-o', join(dir, 'out')]);
    expect(run.code).toBe(8);
    expect(run.stderr).toMatch(/^starget: error: .*app/m);
    expect(await readdir(outside)).toEqual([]);
    // a directory entry of the image replaces the symlink rather than following it
    await runStarget(['get', image('mini-tricky'), 'app/', '-o', join(dir, 'out')]);
    expect(await readdir(outside)).toEqual([]);
  });

  it('exits 5 for an image whose layer is not eStargz, naming the layer', async () => {
    const dir = await freshDir('plain');
    const run = await runStarget(['get', image('mini-plain'), '/', '-o', dir]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/sha256:[0-9a-f]{64}.*not an eStargz layer/);
    expect(await readdir(dir)).toEqual([]);
    const json = await runStarget(['ls', image('mini-plain'), '--json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'E_NOT_ESTARGZ', exitCode: 5 } });
    const info = await runStarget(['info', image('mini-plain'), '--json']);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout.toString()).layers[0]).toMatchObject({ estargz: false, tocDigest: null });
  });
});

describe('cat, ls, info', () => {
  it('cat writes the exact bytes to stdout', async () => {
    for (const path of ['big/random-300K', 'big/compressible-1M', 'data/empty', 'other/hl-big']) {
      const run = await runStarget(['cat', image('mini-tricky'), path]);
      expect(run.code, run.stderr).toBe(0);
      expect(sha256(run.stdout)).toBe(oracle('mini-tricky').find((r) => r.path === path)!.sha256);
    }
    const legacy = await runStarget(['cat', image('mini-legacy'), '/data/random-200K']);
    expect(sha256(legacy.stdout)).toBe(
      oracle('mini-legacy').find((r) => r.path === 'data/random-200K')!.sha256,
    );
    const dir = await runStarget(['cat', image('mini-tricky'), 'data']);
    expect(dir.code).toBe(2);
    expect(dir.stdout.length).toBe(0);
  });

  it('cat follows symlinks inside the image, and names a link that leads outside it', async () => {
    const link = await runStarget(['cat', image('mini-legacy'), 'data/link']);
    expect(link.code, link.stderr).toBe(0);
    expect(sha256(link.stdout)).toBe(
      oracle('mini-legacy').find((r) => r.path === 'data/random-200K')!.sha256,
    );
    const outside = await runStarget(['cat', image('mini-tricky'), 'links/dangling']);
    expect(outside.code).toBe(3);
    expect(outside.stderr).toContain('symlink to /nonexistent/target');
    expect(outside.stdout.length).toBe(0);
  });

  it('ls prints the merged view, one path per line, directories with a slash', async () => {
    const run = await runStarget(['ls', image('mini-tricky')]);
    expect(run.code).toBe(0);
    const expected = oracle('mini-tricky').map((r) => (r.type === 'dir' ? `${r.path}/` : r.path));
    expect(run.stdout.toString().split('\n').slice(0, -1)).toEqual(expected);
  });

  it('ls -l shows modes, sizes, times and link targets; ls restricted to a layer shows only its files', async () => {
    const long = (await runStarget(['ls', '-l', image('mini-tricky'), 'links/'])).stdout.toString();
    expect(long).toMatch(/^lrwxrwxrwx 0\/0 +- 2020-01-01T00:00:00Z links\/rel -> \.\.\/etc\/hostname$/m);
    expect(long).toMatch(/^drwxr-xr-x 0\/0 +- 2020-01-01T00:00:00Z links\/$/m);
    const two = (await runStarget(['ls', image('mini-tricky'), 'app/', 'etc/hostname'])).stdout.toString();
    expect(two).toBe('app/\napp/config.json\napp/main.sh\netc/hostname\n');
    const suid = (await runStarget(['ls', '-l', image('mini-tricky'), 'bin/suid-tool'])).stdout.toString();
    expect(suid).toBe('-rwsr-xr-x 0/0 20 2020-01-01T00:00:00Z bin/suid-tool\n');
    const layer3 = (await runStarget(['ls', image('mini-tricky'), TRICKY_LAYERS[2]!])).stdout.toString();
    expect(layer3).toContain('app/main.sh\n');
    expect(layer3).not.toContain('big/random-300K');
    expect(layer3).not.toContain('.wh.');
    const viaFlag = (
      await runStarget(['ls', image('mini-tricky'), '--layer', TRICKY_LAYERS[2]!])
    ).stdout.toString();
    expect(viaFlag).toBe(layer3);
  });

  it('ls --json prints the documented array', async () => {
    const run = await runStarget(['ls', image('mini-tricky'), 'other/', '--json']);
    const entries = JSON.parse(run.stdout.toString()) as Record<string, unknown>[];
    expect(entries.map((e) => e.path)).toEqual([
      'other',
      'other/hl-big',
      'other/hl-link',
      'other/hl-survivor',
    ]);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual([
        'layer',
        'linkName',
        'mode',
        'mtime',
        'path',
        'size',
        'type',
      ]);
    }
    expect(entries[2]).toEqual({
      path: 'other/hl-link',
      type: 'hardlink',
      size: 31,
      mode: '0644',
      mtime: '2020-01-01T00:00:00Z',
      linkName: 'data/nested/hl-src',
      layer: TRICKY_LAYERS[0],
    });
  });

  it('info shows the manifest, the platform and every layer; --platform picks from an index', async () => {
    const layers = JSON.parse(await readFile(join(FIXTURES, 'mini-tricky', 'layers.json'), 'utf8'));
    const run = await runStarget(['info', image('mini-tricky'), '--json']);
    expect(run.code).toBe(0);
    const info = JSON.parse(run.stdout.toString());
    expect(info).toMatchObject({
      reference: image('mini-tricky'),
      digest: layers.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platform: 'linux/amd64',
    });
    expect(info.layers).toEqual(
      layers.manifests[0].layers.map(
        (l: { digest: string; size: number; mediaType: string; tocDigest: string }) => ({
          digest: l.digest,
          size: l.size,
          mediaType: l.mediaType,
          estargz: true,
          tocDigest: l.tocDigest,
          footer: 'estargz',
        }),
      ),
    );
    const multi = JSON.parse(await readFile(join(FIXTURES, 'mini-multi', 'layers.json'), 'utf8'));
    const arm = multi.manifests.find((m: { platform: string }) => m.platform === 'linux/arm64');
    const text = await runStarget(['info', image('mini-multi'), '--platform', 'linux/arm64']);
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toContain(`Digest:     ${arm.digest}\n`);
    expect(text.stdout.toString()).toContain('Platform:   linux/arm64\n');
    expect(text.stdout.toString()).toContain(arm.layers[0].digest);
    const missing = await runStarget(['info', image('mini-multi'), '--platform', 'linux/s390x']);
    expect(missing.code).toBe(3);
  });

  it('refuses a single-platform image of another platform when one is asked for (docker pull --platform)', async () => {
    const arm = await runStarget(['ls', image('mini-tricky'), '--platform', 'linux/arm64']);
    expect(arm.code).toBe(3);
    expect(arm.stderr).toContain('is a linux/amd64 image, not linux/arm64 as asked');
    expect(arm.stdout.length).toBe(0);
    const fromEnv = await runStarget(['ls', image('mini-tricky')], {
      env: { STARGET_PLATFORM: 'linux/arm64' },
    });
    expect(fromEnv.code).toBe(3);
    const amd = await runStarget(['ls', image('mini-tricky'), '--platform', 'linux/amd64']);
    expect(amd.code, amd.stderr).toBe(0);
    expect(amd.stdout.toString()).toContain('app/main.sh\n');
  });

  it('draws a progress bar and a summary on a terminal only, and none with --no-progress', async () => {
    const dir = await freshDir('tty');
    const command = (extra: string) =>
      `'${process.execPath}' '${join(ROOT, 'dist', 'cli', 'main.js')}' get ${image('mini-tricky')} big/ -o '${dir}' ${extra}`;
    const { spawnSync } = await import('node:child_process');
    const tty = spawnSync('script', ['-qec', command(''), '/dev/null'], { encoding: 'utf8' });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/\[#+\] 100% 1\.\d+ MiB\/1\.\d+ MiB 5\/5 files/);
    expect(tty.stdout).toMatch(/5 files, 1\.\d+ MiB written, .* fetched in \d+ requests, \d+\.\d+ s/);
    const quiet = spawnSync('script', ['-qec', command('--no-progress'), '/dev/null'], { encoding: 'utf8' });
    expect(quiet.status).toBe(0);
    expect(quiet.stdout.trim()).toBe('');
  });

  it('get --json prints a result object on stdout', async () => {
    const dir = await freshDir('json');
    const run = await runStarget(['get', image('mini-tricky'), 'app/', '-o', dir, '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.toString());
    expect(result).toMatchObject({ outDir: dir, files: 2, bytesWritten: 47, warnings: [] });
    expect(result.requests).toBeGreaterThan(0);
  });

  it('config show prints the settings and their sources', async () => {
    const dir = await freshDir('config');
    const file = join(dir, 'config.yaml');
    await writeFile(
      file,
      'defaults:\n  concurrency: 7\nregistries:\n  example.com:\n    username: u\n    password: hunter2secret\n',
    );
    const run = await runStarget(['config', 'show', '--config', file, '--platform', 'linux/arm64'], {
      env: { STARGET_MAX_RETRIES: '5' },
    });
    expect(run.code).toBe(0);
    const text = run.stdout.toString();
    expect(text).toMatch(/^concurrency +7 +file /m);
    expect(text).toMatch(/^platform +linux\/arm64 +flag$/m);
    expect(text).toMatch(/^maxRetries +5 +env STARGET_MAX_RETRIES$/m);
    expect(text).not.toContain('hunter2secret');
    const json = JSON.parse(
      (await runStarget(['config', 'show', '--config', file, '--json'])).stdout.toString(),
    );
    expect(json.settings.concurrency).toMatchObject({ value: 7 });
    expect(JSON.stringify(json)).not.toContain('hunter2secret');
    const bad = await runStarget(['config', 'show', '--config', join(dir, 'missing.yaml')]);
    expect(bad.code).toBe(2);
  });
});
