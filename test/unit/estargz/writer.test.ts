import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openLayer } from '../../../src/estargz/layer.js';
import { readTarEntries } from '../../../src/estargz/tar.js';
import {
  corruptByte,
  payloadPosition,
  type WriterEntry,
  writeEstargz,
} from '../../helpers/estargz-writer.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';
import { decodeWholeBlob } from './_support.js';

const work = mkdtempSync(join(tmpdir(), 'starget-writer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const longName = `deep/${'x'.repeat(120)}/file-with-a-long-name.txt`;
const entries: WriterEntry[] = [
  { type: 'dir', name: 'deep', mode: 0o750 },
  { type: 'reg', name: longName, content: Buffer.from('long\n') },
  { type: 'reg', name: 'bin/suid', content: Buffer.from('#!/bin/sh\n'), mode: 0o4755 },
  {
    type: 'reg',
    name: 'home/secret',
    content: Buffer.from('s'),
    uid: 1000,
    gid: 1001,
    userName: 'alice',
    groupName: 'staff',
    mode: 0o600,
  },
  { type: 'reg', name: 'home/also-alice', content: Buffer.from('a'), uid: 1000, gid: 1001 },
  {
    type: 'reg',
    name: 'xattr-file',
    content: Buffer.from('x'),
    xattrs: { 'user.k': 'v', 'trusted.bin': Buffer.from([0, 1, 255]) },
  },
  { type: 'symlink', name: 'links/abs', linkName: '/etc/passwd' },
  { type: 'hardlink', name: 'links/hard', linkName: 'bin/suid' },
  { type: 'char', name: 'dev/null', devMajor: 1, devMinor: 3 },
  { type: 'block', name: 'dev/loop0', devMajor: 7, devMinor: 0 },
  { type: 'fifo', name: 'dev/fifo' },
  { type: 'reg', name: 'wh/.wh.gone' },
  { type: 'reg', name: 'big', content: Buffer.alloc(10_000, 'abc'), mtime: '2021-06-01T12:00:00Z' },
];

describe('the test eStargz writer', () => {
  it('writes one plain gzip tar stream that GNU tar and our tar reader both read', () => {
    const written = writeEstargz(entries, { chunkSize: 4096 });
    const tar = gunzipSync(written.blob);
    expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(written.diffID);
    expect(tar.length).toBe(written.uncompressedSize);
    const listed = [...readTarEntries(tar)];
    expect(listed.map((e) => e.name.replace(/\/$/, ''))).toEqual([
      '.no.prefetch.landmark',
      ...entries.map((e) => e.name),
      'stargz.index.json',
    ]);
    for (const entry of entries) {
      const found = listed.find((e) => e.name.replace(/\/$/, '') === entry.name);
      if (entry.type === 'reg')
        expect(Buffer.from(found?.data ?? []).equals(Buffer.from(entry.content ?? []))).toBe(true);
    }
    expect(listed.find((e) => e.name === 'xattr-file')?.pax['SCHILY.xattr.user.k']).toBe('v');

    const path = join(work, 'layer.tar.gz');
    writeFileSync(path, written.blob);
    const gnuList = execFileSync('tar', ['-tzf', path]).toString().trim().split('\n');
    expect(gnuList.map((n) => n.replace(/\/$/, ''))).toEqual(listed.map((e) => e.name.replace(/\/$/, '')));
    expect(execFileSync('tar', ['-xzOf', path, longName]).toString()).toBe('long\n');
    expect(execFileSync('tar', ['-xzOf', path, 'big']).equals(Buffer.alloc(10_000, 'abc'))).toBe(true);
  });

  it('writes a TOC the reader turns back into the entries given', async () => {
    const written = writeEstargz(entries, { chunkSize: 4096 });
    const layer = await openLayer(new MemoryBlobSource(written.blob), {
      expectedTocDigest: written.tocDigest,
    });
    const byName = new Map(layer.toc.entries.map((e) => [e.name, e]));
    expect(byName.get('deep')).toMatchObject({ type: 'dir', mode: 0o750 });
    expect(byName.get('bin/suid')).toMatchObject({ mode: 0o4755, size: 10 });
    expect(byName.get('home/secret')).toMatchObject({
      uid: 1000,
      gid: 1001,
      userName: 'alice',
      groupName: 'staff',
      mode: 0o600,
    });
    expect(byName.get('home/also-alice')).toMatchObject({ userName: 'alice', groupName: 'staff' });
    expect(written.entries.find((e) => e['name'] === 'home/also-alice')?.['userName']).toBeUndefined();
    expect(byName.get('xattr-file')?.xattrs).toEqual({
      'user.k': new Uint8Array(Buffer.from('v')),
      'trusted.bin': new Uint8Array([0, 1, 255]),
    });
    expect(byName.get('links/abs')).toMatchObject({ type: 'symlink', linkName: '/etc/passwd' });
    expect(byName.get('links/hard')).toMatchObject({ type: 'hardlink', linkName: 'bin/suid' });
    expect(byName.get('dev/null')).toMatchObject({ type: 'char', devMajor: 1, devMinor: 3 });
    expect(byName.get('dev/loop0')).toMatchObject({ type: 'block', devMajor: 7, devMinor: 0 });
    expect(byName.get('dev/fifo')).toMatchObject({ type: 'fifo' });
    expect(byName.get('wh/.wh.gone')).toMatchObject({ type: 'reg', size: 0, chunks: [] });
    expect(byName.get('big')?.modtime).toBe('2021-06-01T12:00:00Z');
    expect(byName.get('big')?.chunks.map((c) => [c.chunkOffset, c.chunkSize])).toEqual([
      [0, 4096],
      [4096, 4096],
      [8192, 1808],
    ]);
    const files = await decodeWholeBlob(written.blob, layer);
    expect(files.get(longName)?.toString()).toBe('long\n');
  });

  it('writes legacy footers, no chunk digests, and the landmark where asked', async () => {
    const legacy = writeEstargz(entries, {
      footer: 'legacy',
      chunkDigests: false,
      landmark: 'none',
      chunkSize: 4096,
    });
    const layer = await openLayer(new MemoryBlobSource(legacy.blob));
    expect(layer.footer.kind).toBe('legacy');
    expect(layer.toc.entries.some((e) => e.name.endsWith('.landmark'))).toBe(false);
    expect(legacy.entries.some((e) => 'chunkDigest' in e)).toBe(false);
    // a multi-chunk file has no chunk digests to check; a single-chunk one uses the file digest
    expect(
      layer.toc.entries.find((e) => e.name === 'big')?.chunks.every((c) => c.chunkDigest === undefined),
    ).toBe(true);
    expect(layer.toc.entries.find((e) => e.name === 'bin/suid')?.chunks[0]?.chunkDigest).toMatch(/^sha256:/);

    const prefetch = writeEstargz(entries, { landmark: 'prefetch', prioritized: 3 });
    const names = (await openLayer(new MemoryBlobSource(prefetch.blob))).toc.entries.map((e) => e.name);
    expect(names.indexOf('.prefetch.landmark')).toBe(3);
  });

  it('is deterministic', () => {
    const a = writeEstargz(entries, { shareMembersBelow: 100 });
    const b = writeEstargz(entries, { shareMembersBelow: 100 });
    expect(a.blob.equals(b.blob)).toBe(true);
    expect(a.tocDigest).toBe(b.tocDigest);
  });

  it('points payloadPosition inside the named file member, so corrupting it breaks that file only', async () => {
    const written = writeEstargz(entries);
    const at = payloadPosition(written, 'big');
    const offset = written.entries.find((e) => e['name'] === 'big')?.['offset'] as number;
    expect(at).toBeGreaterThan(offset);
    const bad = corruptByte(written.blob, at);
    expect(bad[at]).toBe((written.blob[at] as number) ^ 0xff);
    expect(written.blob.equals(bad)).toBe(false);
    const layer = await openLayer(new MemoryBlobSource(bad));
    const others = {
      ...layer,
      toc: { ...layer.toc, entries: layer.toc.entries.filter((e) => e.name !== 'big') },
    };
    expect((await decodeWholeBlob(bad, others)).get('bin/suid')?.toString()).toBe('#!/bin/sh\n');
    await expect(decodeWholeBlob(bad, layer)).rejects.toMatchObject({
      code: expect.stringMatching(/^E_(DIGEST_MISMATCH|CORRUPT)$/),
    });
  });
});
