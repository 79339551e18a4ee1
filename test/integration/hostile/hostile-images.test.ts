/**
 * Hostile images built with the test writer (or by hand), run through the real chain (openLayer → ImageIndex
 * → Downloader) into a real output directory. Whatever the outcome, nothing outside the output directory is
 * created or changed: the parent temporary directory (with a canary tree beside the output) is snapshotted
 * before and after.
 */

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DownloadResult } from '../../../src/download/job.js';
import { StargzError } from '../../../src/errors.js';
import { type WriterEntry, writeEstargz } from '../../helpers/estargz-writer.js';
import { snapshotTree } from '../../unit/download/_tree.js';
import { extract, handLayer } from './_extract.js';

let base: string;
let out: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-hostile-'));
  out = join(base, 'out');
  outside = join(base, 'outside');
  await mkdir(join(outside, 'etc'), { recursive: true });
  await writeFile(join(outside, 'canary'), 'untouched\n');
  await writeFile(join(outside, 'etc/passwd'), 'root:x:0:0\n');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

type Outcome = { result: DownloadResult; code?: undefined } | { code: string; result?: undefined };

/** Runs `layers` with the outside world snapshotted around it; the result or the StargzError code. */
async function guarded(layers: WriterEntry[][], patterns: string[] = ['.']): Promise<Outcome> {
  const before = await snapshotTree(base, ['out']);
  const blobs = layers.map((entries) => writeEstargz(entries).blob);
  const outcome = await extract(blobs, out, patterns).then(
    (result): Outcome => ({ result }),
    (error: unknown): Outcome => {
      if (!StargzError.is(error)) throw error;
      return { code: error.code };
    },
  );
  expect(await snapshotTree(base, ['out'])).toEqual(before);
  return outcome;
}

const text = (s: string) => Buffer.from(s);

describe('hostile images', () => {
  it('".." and absolute names are cleaned into the output directory', async () => {
    const outcome = await guarded([
      [
        { type: 'reg', name: '../../escape', content: text('1') },
        { type: 'reg', name: '/abs/file', content: text('2') },
        { type: 'reg', name: 'a/../../../b', content: text('3') },
        { type: 'reg', name: './../c', content: text('4') },
      ],
    ]);
    expect(outcome.code).toBeUndefined();
    expect(await readFile(join(out, 'escape'), 'utf8')).toBe('1');
    expect(await readFile(join(out, 'abs/file'), 'utf8')).toBe('2');
    expect(await readFile(join(out, 'b'), 'utf8')).toBe('3');
    expect(await readFile(join(out, 'c'), 'utf8')).toBe('4');
  });

  it('an escaping symlink chain is written as links, never followed', async () => {
    const outcome = await guarded([
      [
        { type: 'symlink', name: 'l1', linkName: '../../..' },
        { type: 'symlink', name: 'l2', linkName: 'l1' },
        { type: 'symlink', name: 'l3', linkName: `l2${outside}` },
        { type: 'symlink', name: 'abs', linkName: outside },
      ],
    ]);
    expect(outcome.code).toBeUndefined();
    expect(await readlink(join(out, 'l3'))).toBe(`l2${outside}`);
    expect(await readlink(join(out, 'abs'))).toBe(outside);
  });

  // The image index makes a path with children a directory (an implied one replaces the symlink), so the
  // file lands inside the output directory under a real directory: never through the link.
  it('a file under an escaping symlink chain of the same layer lands in a real directory', async () => {
    const outcome = await guarded([
      [
        { type: 'symlink', name: 'l1', linkName: '../..' },
        { type: 'symlink', name: 'l2', linkName: 'l1/outside' },
        { type: 'reg', name: 'l2/canary', content: text('pwned') },
      ],
    ]);
    expect(outcome.code).toBeUndefined();
    expect((await snapshotTree(out))['l2']?.type).toBe('dir');
    expect(await readFile(join(out, 'l2/canary'), 'utf8')).toBe('pwned');
  });

  it('a symlink to outside, then a file through it in a later layer', async () => {
    const outcome = await guarded([
      [{ type: 'symlink', name: 'etc', linkName: join(outside, 'etc') }],
      [{ type: 'reg', name: 'etc/passwd', content: text('pwned') }],
    ]);
    expect(outcome.code).toBeUndefined();
    expect((await snapshotTree(out))['etc']?.type).toBe('dir');
    expect(await readFile(join(out, 'etc/passwd'), 'utf8')).toBe('pwned');
  });

  it('a directory replaced by a symlink to outside, then a file below it', async () => {
    const outcome = await guarded([
      [
        { type: 'dir', name: 'data' },
        { type: 'reg', name: 'data/file', content: text('old') },
      ],
      [{ type: 'symlink', name: 'data', linkName: outside }],
      [{ type: 'reg', name: 'data/canary', content: text('pwned') }],
    ]);
    expect(outcome.code).toBeUndefined();
    const tree = await snapshotTree(out);
    expect(Object.keys(tree).sort()).toEqual(['data', 'data/canary']);
    expect(tree['data']?.type).toBe('dir');
  });

  it('a directory replaced by a symlink: the symlink wins, its old content is gone', async () => {
    const outcome = await guarded([
      [
        { type: 'dir', name: 'data' },
        { type: 'reg', name: 'data/file', content: text('old') },
      ],
      [{ type: 'symlink', name: 'data', linkName: outside }],
    ]);
    expect(outcome.code).toBeUndefined();
    expect(await readlink(join(out, 'data'))).toBe(outside);
  });

  it('a hardlink to a path outside the image is refused', async () => {
    const outcome = await guarded([[{ type: 'hardlink', name: 'h', linkName: '../../outside/canary' }]]);
    expect(outcome.code).toBe('E_TOC_INVALID');
  });

  it('a hardlink to a symlink becomes a copy of the symlink, never a link to its target', async () => {
    const outcome = await guarded([
      [
        { type: 'symlink', name: 's', linkName: join(outside, 'canary') },
        { type: 'hardlink', name: 'h', linkName: 's' },
      ],
    ]);
    expect(outcome.code).toBeUndefined();
    expect(await readlink(join(out, 'h'))).toBe(join(outside, 'canary'));
  });

  it('a symlink to outside left in the output directory by an earlier run is replaced, not followed', async () => {
    await mkdir(out);
    await symlink(join(outside, 'etc'), join(out, 'etc'));
    const outcome = await guarded([[{ type: 'reg', name: 'etc/passwd', content: text('pwned') }]]);
    expect(outcome.code).toBeUndefined();
    expect((await snapshotTree(out))['etc']?.type).toBe('dir');
    expect(await readFile(join(out, 'etc/passwd'), 'utf8')).toBe('pwned');
  });

  it('the same, when only the file is asked for (its implied parent is not an entry): refused', async () => {
    await mkdir(out);
    await symlink(join(outside, 'etc'), join(out, 'etc'));
    const outcome = await guarded(
      [[{ type: 'reg', name: 'etc/passwd', content: text('pwned') }]],
      ['etc/passwd'],
    );
    expect(outcome.code).toBe('E_UNSAFE_PATH');
  });

  it('duplicate names: the last entry wins', async () => {
    const outcome = await guarded([
      [
        { type: 'reg', name: 'dup', content: text('first') },
        { type: 'reg', name: 'dup', content: text('second') },
        { type: 'reg', name: 'x', content: text('file') },
        { type: 'dir', name: 'x' },
        { type: 'reg', name: 'x/y', content: text('inside') },
      ],
    ]);
    expect(outcome.code).toBeUndefined();
    expect(await readFile(join(out, 'dup'), 'utf8')).toBe('second');
    expect(await readFile(join(out, 'x/y'), 'utf8')).toBe('inside');
  });
});

describe('hostile members', () => {
  const sha = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

  it.each([false, true])(
    'a gzip bomb member is inflated only as far as the declared size (Range ignored: %s)',
    async (ignoreRange) => {
      // 64 MiB of zeros in one ~64 KiB member, declared as a 10-byte file
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
      const blob = handLayer([bomb], ([offset]) => [
        { name: 'bomb', type: 'reg', size: 10, offset, digest: sha(Buffer.alloc(10)) },
      ]);
      const before = process.memoryUsage().rss;
      const result = await extract([blob], out, ['.'], { source: { ignoreRange } });
      expect((await readFile(join(out, 'bomb'))).equals(Buffer.alloc(10))).toBe(true);
      expect(result.bytesWritten).toBe(10);
      // the member was not inflated whole: far less than its 64 MiB came into memory
      expect(process.memoryUsage().rss - before).toBeLessThan(48 * 1024 * 1024);
    },
  );

  it('a member that inflates to less than the declared size is E_CORRUPT, no file left', async () => {
    const blob = handLayer([gzipSync(Buffer.from('short'))], ([offset]) => [
      { name: 'short', type: 'reg', size: 5000, offset },
    ]);
    const error = await extract([blob], out).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_CORRUPT');
    await expect(readFile(join(out, 'short'))).rejects.toThrow();
  });

  it('a TOC that inflates past the cap is refused (E_TOC_INVALID) without inflating it whole', async () => {
    const blob = handLayer([], () => [], gzipSync(Buffer.alloc(160 * 1024 * 1024)));
    const error = await extract([blob], out).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_TOC_INVALID');
  });

  it('a TOC offset past the blob is refused', async () => {
    const layer = writeEstargz([{ type: 'reg', name: 'f', content: text('x') }]);
    const blob = Buffer.from(layer.blob);
    blob.write((layer.blob.length + 100).toString(16).padStart(16, '0'), blob.length - 51 + 16, 'latin1');
    const error = await extract([blob], out).catch((e: unknown) => e);
    expect(StargzError.is(error) && error.code).toBe('E_TOC_INVALID');
  });
});
