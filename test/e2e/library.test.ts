/**
 * The library facade against the real registry: layer restriction around a non-eStargz layer, the 'target'
 * layout, events, cat, and errors carrying stable codes.
 */

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GetEvent, openImage, StargzError, TOC_DIGEST_ANNOTATION } from '../../src/index.js';
import { buildImage, pushImage, pushLayout } from '../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../helpers/registry-server.js';
import { ensureBuilt, ROOT, runStarget } from './cli-harness.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'images');
const blob = (image: string, digest: string) =>
  readFile(join(FIXTURES, image, 'layout', 'blobs', 'sha256', digest.slice('sha256:'.length)));
const PLAIN = 'sha256:e70bb5e686412d59c6822d4204bfd31211139ce138c36ab7557245cda5bbaa1e';
const TRICKY3 = 'sha256:5bce0906cb255034f71682e86a18b4e836d880d262587ba718be0e97644a9cb4';
const TRICKY3_TOC = 'sha256:13af473db3478e6ad7105896aeac16b070ec5eab2f792f752865ec4209c8e1d4';

let registry: RegistryServer;
let work: string;
let mixed: string;

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  await pushLayout(registry.url, join(FIXTURES, 'mini-tricky', 'layout'), 'fx/tricky', 'v1');
  // a plain gzip layer under an eStargz one
  const built = buildImage({
    layers: [
      { data: await blob('mini-plain', PLAIN) },
      { data: await blob('mini-tricky', TRICKY3), annotations: { [TOC_DIGEST_ANNOTATION]: TRICKY3_TOC } },
    ],
  });
  await pushImage(registry.url, 'fx/mixed', 'v1', built);
  mixed = `${registry.host}/fx/mixed:v1`;
  work = await mkdtemp(join(tmpdir(), 'starget-lib-'));
}, 60_000);

afterAll(async () => {
  await registry?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a non-eStargz layer', () => {
  it('fails the merged view with E_NOT_ESTARGZ naming the layer, and info reports it', async () => {
    const image = await openImage(mixed, { cache: false });
    try {
      const error = await image.index().catch((e: unknown) => e);
      expect(StargzError.is(error) && error.code).toBe('E_NOT_ESTARGZ');
      expect((error as StargzError).message).toContain(PLAIN);
      expect((error as StargzError).message).toContain('--layer');
      const info = await image.info();
      expect(info.layers.map((l) => [l.digest, l.estargz, l.tocDigest])).toEqual([
        [PLAIN, false, null],
        [TRICKY3, true, TRICKY3_TOC],
      ]);
    } finally {
      await image.close();
    }
  });

  it('is no obstacle when another layer is selected, in the library and the CLI', async () => {
    const image = await openImage(mixed, {
      cache: false,
      layer: TRICKY3.slice('sha256:'.length, 'sha256:'.length + 12),
    });
    try {
      expect(image.selectedLayer?.digest).toBe(TRICKY3);
      expect((await image.list('app/')).map((e) => e.path)).toEqual([
        'app',
        'app/config.json',
        'app/main.sh',
      ]);
    } finally {
      await image.close();
    }
    const cli = await runStarget(['ls', mixed, TRICKY3, 'app/']);
    expect(cli.code).toBe(0);
    expect(cli.stdout.toString()).toBe('app/\napp/config.json\napp/main.sh\n');
    expect((await runStarget(['ls', mixed])).code).toBe(5);
    const unknown = await runStarget(['ls', mixed, '--layer', `sha256:${'0'.repeat(64)}`]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain(TRICKY3);
  });
});

describe('get and cat', () => {
  it("writes a single file to a path with layout 'target' and reports a plan and progress", async () => {
    const image = await openImage(`${registry.host}/fx/tricky:v1`, { cache: false });
    try {
      const events: GetEvent[] = [];
      const target = join(work, 'renamed.bin');
      const result = await image.get('big/random-300K', target, {
        layout: 'target',
        onEvent: (e) => events.push(e),
      }).done;
      expect(await readdir(work)).toContain('renamed.bin');
      expect(result.files).toBe(1);
      expect(result.bytesWritten).toBe(307200);
      expect(events[0]).toEqual({ type: 'plan', files: 1, bytes: 307200, entries: 1 });
      const last = events.filter((e) => e.type === 'progress').at(-1);
      expect(last).toMatchObject({ bytesWritten: 307200, filesDone: 1, filesTotal: 1 });
      const tree = await image.get(['big/random-300K'], join(work, 'tree')).done;
      expect(tree.outDir).toBe(join(work, 'tree'));
      expect(await readdir(join(work, 'tree', 'big'))).toEqual(['random-300K']);

      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      const cat = await image.cat('/big/random-300K', out);
      expect(cat.bytesWritten).toBe(307200);
      const bytes = Buffer.concat(chunks);
      expect(createHash('sha256').update(bytes).digest()).toEqual(
        createHash('sha256')
          .update(await readFile(target))
          .digest(),
      );
      const missing = await image.cat('no/such', out).catch((e: unknown) => e);
      expect(StargzError.is(missing) && missing.code).toBe('E_NOT_FOUND');
      const cancelled = image.get('.', join(work, 'cancelled'));
      cancelled.cancel('stop');
      const aborted = await cancelled.done.catch((e: unknown) => e);
      expect(StargzError.is(aborted) && aborted.code).toBe('E_ABORTED');
    } finally {
      await image.close();
    }
  });

  it('rejects a reference that does not parse, and a missing tag, with stable codes', async () => {
    const bad = await openImage('UPPER/Case:tag').catch((e: unknown) => e);
    expect(StargzError.is(bad) && bad.code).toBe('E_INVALID_REFERENCE');
    const missing = await openImage(`${registry.host}/fx/tricky:nope`, { cache: false }).catch(
      (e: unknown) => e,
    );
    expect(StargzError.is(missing) && missing.code).toBe('E_NOT_FOUND');
  });
});
