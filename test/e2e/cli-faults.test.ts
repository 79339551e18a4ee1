/**
 * End to end with hostile conditions: a corrupted byte on the wire, a registry that ignores Range, and
 * token auth behind a redirecting front, at --debug, with every secret searched for in the output.
 */

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FaultFront,
  type RedirectFront,
  startFaultFront,
  startRedirectFront,
} from '../helpers/fronts.js';
import { readManifestTsv } from '../helpers/manifest-tsv.js';
import { pushLayout } from '../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { ensureBuilt, ROOT, runStarget } from './cli-harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'images');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const expectedSha = (path: string) =>
  readManifestTsv(join(FIXTURES, 'mini-tricky', 'expected', 'manifest.tsv')).find((r) => r.path === path)!
    .sha256;

let work: string;
beforeAll(async () => {
  ensureBuilt();
  work = await mkdtemp(join(tmpdir(), 'starget-e2e-faults-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('integrity and Range behaviour', () => {
  let registry: RegistryServer;
  let front: FaultFront;
  beforeAll(async () => {
    registry = await startRegistry();
    await pushLayout(registry.url, join(FIXTURES, 'mini-tricky', 'layout'), 'fixtures/mini-tricky', 'v1');
    front = await startFaultFront(registry.url);
  }, 60_000);
  afterAll(async () => {
    await front?.close();
    await registry?.close();
  });

  it('exits 6 on a corrupted byte and leaves no file under its final name', async () => {
    // find where big/random-300K's payload lives in layer 1, through the library
    const { openImage } = await import('../../src/index.js');
    const opened = await openImage(`${front.host}/fixtures/mini-tricky:v1`, {
      plainHttp: true,
      cache: false,
    });
    const index = await opened.index();
    const entry = index.findFile('big/random-300K');
    await opened.close();
    const chunk = entry.chunks[1]!;
    front.setRules([
      {
        match: { blobs: true, when: (r) => r.range !== undefined && !r.range.startsWith('bytes=-') },
        action: {
          type: 'corrupt',
          blobOffset: chunk.offset + Math.floor((chunk.compressedEnd - chunk.offset) / 2),
        },
      },
    ]);
    const out = join(work, 'corrupt');
    await mkdir(out);
    const run = await runStarget(['get', `${front.host}/fixtures/mini-tricky:v1`, 'big/', '-o', out]);
    front.setRules([]);
    expect(run.code, run.stderr).toBe(6);
    expect(run.stderr).toMatch(/^starget: error: .*random-300K/m);
    const left = await readdir(join(out, 'big')).catch(() => [] as string[]);
    expect(left).not.toContain('random-300K');
    expect(left.filter((name) => name.includes('starget-tmp'))).toEqual([]);
    const json = await runStarget([
      'cat',
      `${front.host}/fixtures/mini-tricky:v1`,
      'big/random-300K',
      '--json',
    ]);
    expect(json.code).toBe(0);
    expect(sha256(json.stdout)).toBe(expectedSha('big/random-300K'));
  });

  it('exits 130 on SIGINT during a slow download and leaves no partial file', async () => {
    front.setRules([
      {
        match: { blobs: true, when: (r) => r.range !== undefined && !r.range.startsWith('bytes=-') },
        action: { type: 'delay', ms: 0, chunkSize: 1024, intervalMs: 50 },
      },
    ]);
    const out = join(work, 'interrupted');
    const { spawn } = await import('node:child_process');
    const { CLI, isolatedEnv } = await import('./cli-harness.js');
    const child = spawn(
      process.execPath,
      [CLI, 'get', `${front.host}/fixtures/mini-tricky:v1`, 'big/', '-o', out],
      {
        env: isolatedEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    // wait until the slow content requests are under way
    const started = Date.now();
    while (front.requests.filter((r) => r.fault === 'delay').length === 0 && Date.now() - started < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    front.setRules([]);
    expect(code, stderr).toBe(130);
    const left = await readdir(join(out, 'big')).catch(() => [] as string[]);
    expect(left.filter((name) => name.includes('starget-tmp'))).toEqual([]);
    expect(left).not.toContain('compressible-1M');
  });

  it('still gets the right files when the registry ignores Range', async () => {
    front.setRules([{ match: { blobs: true }, action: { type: 'ignore-range' } }]);
    const out = join(work, 'no-range');
    const run = await runStarget([
      'get',
      `${front.host}/fixtures/mini-tricky:v1`,
      'big/',
      'app/main.sh',
      '-o',
      out,
      '--verbose',
      // a tail that holds no payload, so the files are read with ranges (not from the tail in memory)
      '--tail-size',
      '1024',
    ]);
    front.setRules([]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/ignored Range/);
    for (const path of ['big/random-300K', 'big/compressible-1M', 'big/64K-plus-1', 'app/main.sh']) {
      expect(sha256(await readFile(join(out, path)))).toBe(expectedSha(path));
    }
  });
});

describe('token auth and redirects at --debug', () => {
  const PASSWORD = 'Pa55-w0rd-never-shown';
  let tokens: TokenServer;
  let registry: RegistryServer;
  let redirect: RedirectFront;
  beforeAll(async () => {
    tokens = await startTokenServer({ users: { alice: PASSWORD } });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    await pushLayout(registry.url, join(FIXTURES, 'mini-tricky', 'layout'), 'private/tricky', 'v1', {
      credentials: { username: 'alice', password: PASSWORD },
    });
    redirect = await startRedirectFront(registry.url, { signedUrlTtlMs: 60_000 });
  }, 60_000);
  afterAll(async () => {
    await redirect?.close();
    await registry?.close();
    await tokens?.close();
  });

  it('exits 4 without credentials', async () => {
    const run = await runStarget(['info', `${redirect.host}/private/tricky:v1`]);
    expect(run.code).toBe(4);
    const wrong = await runStarget([
      'ls',
      `${redirect.host}/private/tricky:v1`,
      '--credential',
      'alice:wrong-password',
    ]);
    expect(wrong.code).toBe(4);
  });

  it('never prints a password, token or signed URL query in any command', async () => {
    const ref = `${redirect.host}/private/tricky:v1`;
    const out = join(work, 'debug');
    const runs = [
      await runStarget(['info', ref, '--debug', '--credential', `alice:${PASSWORD}`]),
      await runStarget(['ls', ref, '-l', '-d', '--credential', `alice:${PASSWORD}`]),
      await runStarget(
        ['get', ref, 'big/', '-o', out, '--debug', '--username', 'alice', '--password-stdin'],
        {
          input: `${PASSWORD}\n`,
        },
      ),
      await runStarget(['cat', ref, 'app/main.sh', '--debug', '--json', '--credential', `alice:${PASSWORD}`]),
      await runStarget(['info', ref, '--debug', '--credential', `alice:${PASSWORD}-wrong`]),
    ];
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 4]);
    expect(sha256(await readFile(join(out, 'big', 'random-300K')))).toBe(expectedSha('big/random-300K'));
    expect(redirect.blobOrigin.violations).toEqual([]);
    const secrets = [
      PASSWORD,
      Buffer.from(`alice:${PASSWORD}`).toString('base64'),
      ...tokens.issued.flatMap((t) => [t.token, t.token.split('.')[2]!]),
      ...redirect.blobOrigin.requests.flatMap((r) => {
        const query = new URL(r.path, 'http://x').searchParams;
        return [query.get('X-Signature')].filter((v): v is string => !!v);
      }),
    ];
    expect(tokens.issued.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThan(3);
    const all = runs.map((r) => r.stderr + r.stdout.toString('latin1')).join('\n');
    // the debug output does describe the requests
    expect(all).toMatch(/DEBUG/);
    expect(all).toMatch(/\/v2\/private\/tricky\/manifests\/v1/);
    for (const secret of secrets) expect(all.includes(secret), `leaked ${secret.slice(0, 6)}…`).toBe(false);
  });
});
