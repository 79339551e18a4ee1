import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache } from '../../../src/cache/index.js';
import { StargzError } from '../../../src/errors.js';
import { layerDigestFor, makeToc, makeTocMember } from './toc-sample.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starget-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const tocPath = (layerDigest: string): string => join(dir, 'v1', 'toc', 'sha256', layerDigest.slice(7));
const manifestPath = (digest: string): string => join(dir, 'v1', 'manifest', 'sha256', digest.slice(7));

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('ContentCache TOCs', () => {
  it('misses on an empty cache, then returns what was stored, byte for byte', async () => {
    const cache = new ContentCache({ dir });
    const layer = layerDigestFor('one');
    const toc = makeToc(5000);
    expect(await cache.getToc(layer)).toBeUndefined();
    expect(await cache.putToc(layer, toc)).toBe(true);
    const got = await cache.getToc(layer, toc.tocDigest);
    expect(got).toBeDefined();
    expect(Buffer.from(got!.tocJson).equals(Buffer.from(toc.tocJson))).toBe(true);
    expect(got!.tocDigest).toBe(toc.tocDigest);
    expect(got!.footer).toEqual(toc.footer);
    expect(got!.blobSize).toBe(toc.blobSize);
    // without the annotation the entry is still checked against the digest stored with it
    expect(await new ContentCache({ dir }).getToc(layer)).toBeDefined();
    expect(cache.stats()).toMatchObject({ tocHits: 1, tocMisses: 1, writes: 1, discarded: 0 });
  });

  it('keeps layers apart', async () => {
    const cache = new ContentCache({ dir });
    const a = makeToc(3000, 'a');
    const b = makeToc(3000, 'b');
    await cache.putToc(layerDigestFor('a'), a);
    await cache.putToc(layerDigestFor('b'), b);
    expect((await cache.getToc(layerDigestFor('a')))!.tocDigest).toBe(a.tocDigest);
    expect((await cache.getToc(layerDigestFor('b')))!.tocDigest).toBe(b.tocDigest);
  });

  it('discards an entry whose TOC digest differs from the annotation asked for', async () => {
    const cache = new ContentCache({ dir });
    const layer = layerDigestFor('one');
    await cache.putToc(layer, makeToc(2000));
    const other = makeToc(2000, 'other').tocDigest;
    expect(await cache.getToc(layer, other)).toBeUndefined();
    await expect(stat(tocPath(layer))).rejects.toThrow();
    expect(cache.stats().discarded).toBe(1);
  });

  it.each([
    [
      'a flipped payload byte',
      (b: Buffer) => Buffer.concat([b.subarray(0, -3), Buffer.from('x'), b.subarray(-2)]),
    ],
    ['a truncated payload', (b: Buffer) => b.subarray(0, b.length - 100)],
    ['extra bytes after the payload', (b: Buffer) => Buffer.concat([b, Buffer.from('{}')])],
    ['a garbage file', () => Buffer.from('not a cache entry at all')],
    [
      'a header from another format',
      (b: Buffer) => Buffer.from(b.toString('latin1').replace('/1"', '/9"'), 'latin1'),
    ],
  ])('discards %s and refetches', async (_name, corrupt) => {
    const cache = new ContentCache({ dir });
    const layer = layerDigestFor('one');
    const toc = makeToc(4000);
    await cache.putToc(layer, toc);
    await writeFile(tocPath(layer), corrupt(await readFile(tocPath(layer))));
    expect(await cache.getToc(layer, toc.tocDigest)).toBeUndefined();
    expect(cache.stats().discarded).toBe(1);
    await expect(stat(tocPath(layer))).rejects.toThrow();
    expect(await cache.putToc(layer, toc)).toBe(true);
    expect(await cache.getToc(layer, toc.tocDigest)).toBeDefined();
  });

  it('rejects an entry copied under another layer digest', async () => {
    const cache = new ContentCache({ dir });
    const toc = makeToc(1000);
    await cache.putToc(layerDigestFor('a'), toc);
    await mkdir(join(tocPath(layerDigestFor('b')), '..'), { recursive: true });
    await writeFile(tocPath(layerDigestFor('b')), await readFile(tocPath(layerDigestFor('a'))));
    expect(await cache.getToc(layerDigestFor('b'), toc.tocDigest)).toBeUndefined();
    expect(await cache.getToc(layerDigestFor('a'), toc.tocDigest)).toBeDefined();
  });

  it('refuses to store a TOC that does not hash to its digest', async () => {
    const cache = new ContentCache({ dir });
    const toc = { ...makeToc(1000), tocDigest: makeToc(1000, 'z').tocDigest };
    expect(await cache.putToc(layerDigestFor('a'), toc)).toBe(false);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('never stores nor loads a TOC over the size cap', async () => {
    const big = makeToc(50_000);
    const small = new ContentCache({ dir, maxTocBytes: 10_000 });
    expect(await small.putToc(layerDigestFor('a'), big)).toBe(false);
    expect(await new ContentCache({ dir }).putToc(layerDigestFor('a'), big)).toBe(true);
    expect(await small.getToc(layerDigestFor('a'), big.tocDigest)).toBeUndefined();
    expect(small.stats()).toMatchObject({ oversized: 1, discarded: 0 });
    // left in place for a process with a bigger cap
    expect((await stat(tocPath(layerDigestFor('a')))).size).toBeGreaterThan(50_000);
  });

  it.each([
    'sha256:../../../etc/passwd',
    'SHA256:' + 'a'.repeat(64),
    'sha256:' + 'A'.repeat(64),
    'md5:abc',
    '',
  ])('treats the malformed digest %j as a miss and never writes with it', async (bad) => {
    const cache = new ContentCache({ dir });
    const toc = makeToc(500);
    expect(await cache.putToc(bad, toc)).toBe(false);
    expect(await cache.getToc(bad)).toBeUndefined();
    expect(await cache.putToc(layerDigestFor('a'), { ...toc, tocDigest: bad })).toBe(false);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('turns an unwritable cache directory into a failed store, not a thrown error', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file where the cache directory should be');
    const cache = new ContentCache({ dir: blocker });
    expect(await cache.putToc(layerDigestFor('a'), makeToc(500))).toBe(false);
    expect(await cache.getToc(layerDigestFor('a'))).toBeUndefined();
    expect(cache.stats().writeFailures).toBe(1);
  });
});

describe('ContentCache manifests', () => {
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }));
  const digest = sha256(manifest);

  it('stores and loads by digest with its media type', async () => {
    const cache = new ContentCache({ dir });
    expect(await cache.getManifest(digest)).toBeUndefined();
    expect(await cache.putManifest(digest, manifest, 'application/vnd.oci.image.manifest.v1+json')).toBe(
      true,
    );
    const got = await cache.getManifest(digest);
    expect(Buffer.from(got!.bytes).equals(manifest)).toBe(true);
    expect(got!.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    await cache.putManifest(digest, manifest);
    expect((await cache.getManifest(digest))!.mediaType).toBeUndefined();
    expect(cache.stats()).toMatchObject({ manifestHits: 2, manifestMisses: 1 });
  });

  it('refuses bytes that do not hash to the digest, and discards such an entry on load', async () => {
    const cache = new ContentCache({ dir });
    expect(await cache.putManifest(digest, Buffer.from('{"tampered":true}'))).toBe(false);
    await cache.putManifest(digest, manifest);
    const path = manifestPath(digest);
    const onDisk = (await readFile(path)).toString('utf8').replace('"layers":[]', '"layers":{}');
    await writeFile(path, onDisk);
    expect(await cache.getManifest(digest)).toBeUndefined();
    expect(cache.stats().discarded).toBe(1);
  });

  it('caps manifest size', async () => {
    const big = Buffer.from(JSON.stringify({ pad: 'x'.repeat(3000) }));
    const cache = new ContentCache({ dir, maxManifestBytes: 1000 });
    expect(await cache.putManifest(sha256(big), big)).toBe(false);
    await new ContentCache({ dir }).putManifest(sha256(big), big);
    expect(await cache.getManifest(sha256(big))).toBeUndefined();
  });
});

describe('ContentCache info and prune', () => {
  it('reports zero for a cache that does not exist yet', async () => {
    const cache = new ContentCache({ dir: join(dir, 'nothing-here') });
    expect(await cache.info()).toMatchObject({ entries: 0, bytes: 0 });
    expect(await cache.prune({ all: true })).toEqual({ removed: 0, bytes: 0 });
  });

  it('counts entries and bytes by kind, leaving temp files out', async () => {
    const cache = new ContentCache({ dir });
    const manifest = Buffer.from('{"schemaVersion":2}');
    await cache.putToc(layerDigestFor('a'), makeToc(3000, 'a'));
    await cache.putToc(layerDigestFor('b'), makeToc(6000, 'b'));
    await cache.putManifest(sha256(manifest), manifest);
    await writeFile(`${tocPath(layerDigestFor('c'))}.tmp-1-abc`, 'half written');
    const sizes = await Promise.all(
      [tocPath(layerDigestFor('a')), tocPath(layerDigestFor('b')), manifestPath(sha256(manifest))].map(
        async (p) => (await stat(p)).size,
      ),
    );
    const info = await cache.info();
    expect(info.tocs).toEqual({ entries: 2, bytes: sizes[0]! + sizes[1]! });
    expect(info.manifests).toEqual({ entries: 1, bytes: sizes[2]! });
    expect(info).toMatchObject({ dir, entries: 3, bytes: sizes[0]! + sizes[1]! + sizes[2]! });
  });

  it('prunes entries unused for longer than olderThan; a load counts as use', async () => {
    const cache = new ContentCache({ dir });
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const old = new Date(now - 10 * day);
    for (const name of ['used', 'unused']) {
      await cache.putToc(layerDigestFor(name), makeToc(1000, name));
      await utimes(tocPath(layerDigestFor(name)), old, old);
    }
    expect(await cache.getToc(layerDigestFor('used'))).toBeDefined();
    const unusedSize = (await stat(tocPath(layerDigestFor('unused')))).size;
    expect(await cache.prune({ olderThan: 7 * day, now })).toEqual({ removed: 1, bytes: unusedSize });
    expect(await cache.getToc(layerDigestFor('used'))).toBeDefined();
    expect(await cache.getToc(layerDigestFor('unused'))).toBeUndefined();
    expect(await cache.prune({ olderThan: 20 * day, now })).toEqual({ removed: 0, bytes: 0 });
  });

  it('removes stale temp files but not fresh ones, and everything with all', async () => {
    const cache = new ContentCache({ dir });
    await cache.putToc(layerDigestFor('a'), makeToc(1000));
    const stale = `${tocPath(layerDigestFor('x'))}.tmp-1-stale`;
    const fresh = `${tocPath(layerDigestFor('y'))}.tmp-1-fresh`;
    await writeFile(stale, 'x');
    await writeFile(fresh, 'y');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    expect(await cache.prune()).toEqual({ removed: 0, bytes: 0 });
    await expect(stat(stale)).rejects.toThrow();
    await expect(stat(fresh)).resolves.toBeDefined();
    const result = await cache.prune({ all: true });
    expect(result.removed).toBe(1);
    expect(await filesUnder(dir)).toEqual([]);
    // and the cache works again afterwards
    expect(await cache.putToc(layerDigestFor('a'), makeToc(1000))).toBe(true);
  });

  it('rejects a negative age', async () => {
    const error = await new ContentCache({ dir }).prune({ olderThan: -1 }).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_USAGE');
  });
});

describe('ContentCache platform choices', () => {
  const index = `sha256:${'1'.repeat(64)}`;
  const chosen = `sha256:${'2'.repeat(64)}`;

  it('returns what was recorded for the index and platform, and nothing for another', async () => {
    const cache = new ContentCache({ dir });
    expect(await cache.getPlatformChoice(index, 'linux/arm64')).toBeUndefined();
    const platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    expect(await cache.putPlatformChoice(index, 'linux/arm64', { digest: chosen, platform })).toBe(true);
    expect(await cache.getPlatformChoice(index, 'linux/arm64')).toEqual({ digest: chosen, platform });
    expect(await cache.getPlatformChoice(index, 'linux/amd64')).toBeUndefined();
    expect(await cache.getPlatformChoice(`sha256:${'3'.repeat(64)}`, 'linux/arm64')).toBeUndefined();
    expect((await cache.info()).platforms.entries).toBe(1);
  });

  it('refuses malformed keys and discards a damaged entry', async () => {
    const cache = new ContentCache({ dir });
    expect(await cache.putPlatformChoice('latest', 'linux/amd64', { digest: chosen })).toBe(false);
    expect(await cache.putPlatformChoice(index, '../../etc', { digest: chosen })).toBe(false);
    expect(await cache.putPlatformChoice(index, 'linux/amd64', { digest: 'sha256:nothex' })).toBe(false);
    expect(await cache.putPlatformChoice(index, 'linux/amd64', { digest: chosen })).toBe(true);
    const [file] = await filesUnder(join(dir, 'v1', 'platform'));
    const bytes = await readFile(file!);
    await writeFile(file!, bytes.subarray(0, bytes.length - 3));
    expect(await cache.getPlatformChoice(index, 'linux/amd64')).toBeUndefined();
    expect(cache.stats().discarded).toBe(1);
    expect(await filesUnder(join(dir, 'v1', 'platform'))).toEqual([]);
  });
});

describe('ContentCache putToc with a member the caller verified', () => {
  it('stores without decompressing; a load still checks the digest and discards a wrong entry', async () => {
    const cache = new ContentCache({ dir });
    const toc = makeToc(20_000);
    const member = makeTocMember(toc.tocJson);
    const layer = layerDigestFor('verified');
    const { tocJson: _json, ...meta } = toc;
    expect(await cache.putToc(layer, { ...meta, tocMember: member, verified: true })).toBe(true);
    expect((await cache.getToc(layer))?.tocDigest).toBe(toc.tocDigest);
    // a caller that lies is not caught at the store, but at the load
    const liar = layerDigestFor('liar');
    const wrong = `sha256:${'e'.repeat(64)}`;
    expect(await cache.putToc(liar, { ...meta, tocDigest: wrong, tocMember: member, verified: true })).toBe(
      true,
    );
    expect(await cache.putToc(liar, { ...meta, tocDigest: wrong, tocMember: member })).toBe(false);
    expect(await cache.getToc(liar)).toBeUndefined();
    expect(cache.stats().discarded).toBe(1);
  });

  it('refuses a member whose gzip trailer says it holds more than the cap', async () => {
    const cache = new ContentCache({ dir, maxTocBytes: 64 * 1024 });
    const toc = makeToc(300_000);
    const { tocJson: _json, ...meta } = toc;
    const member = makeTocMember(toc.tocJson);
    // the member itself is under the cap; what it holds is not
    expect(member.length).toBeLessThan(64 * 1024);
    expect(await cache.putToc(layerDigestFor('big'), { ...meta, tocMember: member, verified: true })).toBe(
      false,
    );
  });
});
