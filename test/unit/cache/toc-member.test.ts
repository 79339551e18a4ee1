import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentCache } from '../../../src/cache/index.js';
import { tocJsonFromMember } from '../../../src/cache/toc-member.js';
import { layerDigestFor, makeToc, makeTocMember } from './toc-sample.js';

describe('tocJsonFromMember', () => {
  const json = Buffer.from('{"version":1,"entries":[]}');

  it.each([
    ['a plain ustar entry', makeTocMember(json)],
    ['an entry named ./stargz.index.json', makeTocMember(json, { name: './stargz.index.json' })],
    ['an entry named by a PAX record', makeTocMember(json, { pax: true })],
  ])('reads the JSON from %s', (_name, member) => {
    expect(Buffer.from(tocJsonFromMember(member, 1 << 20)!).equals(json)).toBe(true);
  });

  it.each([
    ['bytes that are not gzip', Buffer.from('plain bytes')],
    ['a tar without the TOC entry', makeTocMember(json, { name: 'etc/passwd' })],
    ['a truncated tar', gzipSync(makeTocMember(json).subarray(0, 10))],
    ['an empty tar', gzipSync(Buffer.alloc(1024))],
  ])('returns undefined for %s', (_name, member) => {
    expect(tocJsonFromMember(member, 1 << 20)).toBeUndefined();
  });

  it('stops at the size cap instead of inflating a bomb', () => {
    const big = Buffer.alloc(4 << 20, 0x20);
    const member = makeTocMember(big);
    expect(member.length).toBeLessThan(64 * 1024);
    expect(tocJsonFromMember(member, 1 << 20)).toBeUndefined();
    expect(tocJsonFromMember(member, 8 << 20)?.length).toBe(big.length);
  });
});

describe('ContentCache with TOC gzip members', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starget-cache-member-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the member as given and loads the verified JSON', async () => {
    const cache = new ContentCache({ dir });
    const { tocJson, ...rest } = makeToc(200_000);
    const member = makeTocMember(tocJson);
    expect(await cache.putToc(layerDigestFor('m'), { ...rest, tocMember: member })).toBe(true);
    const path = join(dir, 'v1', 'toc', 'sha256', layerDigestFor('m').slice(7));
    expect((await stat(path)).size).toBeLessThan(member.length + 1024);
    const got = await cache.getToc(layerDigestFor('m'), rest.tocDigest);
    expect(Buffer.from(got!.tocJson).equals(Buffer.from(tocJson))).toBe(true);
    expect(got!.footer).toEqual(rest.footer);
  });

  it('refuses a member whose TOC does not hash to the digest, or holds no TOC', async () => {
    const cache = new ContentCache({ dir });
    const { tocJson, ...rest } = makeToc(1000);
    const other = makeToc(1000, 'other').tocJson;
    expect(await cache.putToc(layerDigestFor('m'), { ...rest, tocMember: makeTocMember(other) })).toBe(false);
    const noToc = makeTocMember(tocJson, { name: 'not-the-toc' });
    expect(await cache.putToc(layerDigestFor('m'), { ...rest, tocMember: noToc })).toBe(false);
    expect(cache.stats().writeFailures).toBe(2);
  });

  it('discards a stored member that was altered on disk', async () => {
    const cache = new ContentCache({ dir });
    const { tocJson, ...rest } = makeToc(5000);
    await cache.putToc(layerDigestFor('m'), { ...rest, tocMember: makeTocMember(tocJson) });
    const path = join(dir, 'v1', 'toc', 'sha256', layerDigestFor('m').slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length - 20]! ^= 0xff;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, bytes);
    expect(await cache.getToc(layerDigestFor('m'), rest.tocDigest)).toBeUndefined();
    expect(cache.stats().discarded).toBe(1);
  });
});
