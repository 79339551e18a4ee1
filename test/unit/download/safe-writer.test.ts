import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafeWriter, type SafeWriterOptions, TEMP_PREFIX } from '../../../src/download/safe-writer.js';
import type { DownloadWarning } from '../../../src/download/types.js';
import { StargzError } from '../../../src/errors.js';

let base: string;
let out: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-writer-'));
  out = join(base, 'out');
  outside = join(base, 'outside');
  await mkdir(out);
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'original');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every path under `dir` with its type and (for files) content, to compare before and after. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(current: string, prefix: string) {
    for (const name of (await readdir(current)).sort()) {
      const abs = join(current, name);
      const stats = await lstat(abs);
      const key = prefix + name;
      if (stats.isDirectory()) {
        result[key] = `dir ${(stats.mode & 0o7777).toString(8)}`;
        await walk(abs, key + '/');
      } else if (stats.isSymbolicLink()) result[key] = `link ${await readlink(abs)}`;
      else result[key] = `file ${await readFile(abs, 'utf8')}`;
    }
  }
  await walk(dir, '');
  return result;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(StargzError.is(error), `expected a StargzError, got ${String(error)}`).toBe(true);
  expect((error as StargzError).code).toBe(code);
}

async function writeWhole(writer: SafeWriter, path: string, content: string, mode = 0o644) {
  const file = await writer.writeFile(path, { mode });
  await file.write(Buffer.from(content));
  await file.commit();
}

async function tempLeftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(current: string) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (entry.name.startsWith(TEMP_PREFIX)) found.push(join(current, entry.name));
      if (entry.isDirectory()) await walk(join(current, entry.name));
    }
  }
  await walk(dir);
  return found;
}

/** Both ways the writer guards directories; every test below runs in each. */
const MODES = [
  ['pinned directories', true],
  ['realpath checks', false],
] as const;
let pinDirectories = true;

function createWriter(dir: string, options: SafeWriterOptions = {}): Promise<SafeWriter> {
  return SafeWriter.create(dir, { ...options, pinDirectories });
}

describe.each(MODES)('with %s', (_mode, pin) => {
  beforeEach(() => {
    pinDirectories = pin;
  });

  it('pins directories exactly when asked and on Linux', async () => {
    const writer = await createWriter(out);
    expect(writer.pinsDirectories).toBe(pin && process.platform === 'linux');
  });

  describe('SafeWriter path rules', () => {
    it.each([
      ['../escape', 'E_UNSAFE_PATH'],
      ['a/../../escape', 'E_UNSAFE_PATH'],
      ['a/..', 'E_UNSAFE_PATH'],
      ['/abs', 'E_UNSAFE_PATH'],
      ['a\0b', 'E_UNSAFE_PATH'],
      ['.', 'E_UNSAFE_PATH'],
      ['', 'E_UNSAFE_PATH'],
    ])('refuses %j', async (path, code) => {
      const before = await snapshot(base);
      const writer = await createWriter(out);
      await expectCode(writer.writeFile(path, { mode: 0o644 }), code);
      await expectCode(writer.mkdir(path, { mode: 0o755 }), code);
      await expectCode(writer.symlink(path, 'x'), code);
      expect(await snapshot(base)).toEqual(before);
    });

    it('accepts ./ prefixes and doubled slashes inside the output directory', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, './a//b/./c.txt', 'hi');
      expect(await readFile(join(out, 'a/b/c.txt'), 'utf8')).toBe('hi');
    });
  });

  describe('SafeWriter against symlinks', () => {
    it('refuses a file under a symlink that was in the output directory before the run', async () => {
      await symlink(outside, join(out, 'evil'));
      const before = await snapshot(outside);
      const writer = await createWriter(out);
      await expectCode(writeWhole(writer, 'evil/pwned', 'x'), 'E_UNSAFE_PATH');
      await expectCode(writeWhole(writer, 'evil/victim', 'x'), 'E_UNSAFE_PATH');
      await expectCode(writer.mkdir('evil/sub', { mode: 0o755 }), 'E_UNSAFE_PATH');
      await expectCode(writer.symlink('evil/l', '/etc/passwd'), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
      expect(await tempLeftovers(base)).toEqual([]);
    });

    it('refuses a file under a relative symlink escaping through ..', async () => {
      await mkdir(join(out, 'd'));
      await symlink('../../outside', join(out, 'd', 'up'));
      const before = await snapshot(outside);
      const writer = await createWriter(out);
      await expectCode(writeWhole(writer, 'd/up/victim', 'changed'), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
    });

    it('refuses a symlink inside the output directory too (no writing through any symlink)', async () => {
      await mkdir(join(out, 'real'));
      await symlink('real', join(out, 'alias'));
      const writer = await createWriter(out);
      await expectCode(writeWhole(writer, 'alias/f', 'x'), 'E_UNSAFE_PATH');
      expect(await readdir(join(out, 'real'))).toEqual([]);
    });

    it('writes a symlink target as data, then refuses a file through it', async () => {
      const before = await snapshot(outside);
      const writer = await createWriter(out);
      await writer.symlink('link', outside);
      expect(await readlink(join(out, 'link'))).toBe(outside);
      await expectCode(writeWhole(writer, 'link/victim', 'changed'), 'E_UNSAFE_PATH');
      await expectCode(writeWhole(writer, 'link/new', 'x'), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
    });

    it('replaces a pre-existing symlink at the final name instead of following it', async () => {
      await symlink(join(outside, 'victim'), join(out, 'f'));
      const writer = await createWriter(out);
      await writeWhole(writer, 'f', 'mine');
      expect((await lstat(join(out, 'f'))).isFile()).toBe(true);
      expect(await readFile(join(out, 'f'), 'utf8')).toBe('mine');
      expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('original');
    });

    it('replaces a pre-existing symlink by a directory when the image says directory', async () => {
      await symlink(outside, join(out, 'etc'));
      const before = await snapshot(outside);
      const writer = await createWriter(out);
      await writer.mkdir('etc', { mode: 0o755 });
      await writeWhole(writer, 'etc/passwd', 'root');
      await writer.finish();
      expect((await lstat(join(out, 'etc'))).isDirectory()).toBe(true);
      expect(await readFile(join(out, 'etc/passwd'), 'utf8')).toBe('root');
      expect(await snapshot(outside)).toEqual(before);
    });

    it('detects a parent replaced by a symlink after it was checked', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'd/first', '1');
      await rm(join(out, 'd'), { recursive: true });
      await symlink(outside, join(out, 'd'));
      const before = await snapshot(outside);
      await expectCode(writeWhole(writer, 'd/second', '2'), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
    });

    it('detects an ancestor replaced by a symlink after its subdirectory was checked', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'a/b/first', '1');
      // the same shape outside, so that a path walk through the symlink would find a directory
      await mkdir(join(outside, 'a', 'b'), { recursive: true });
      await rm(join(out, 'a'), { recursive: true });
      await symlink(join(outside, 'a'), join(out, 'a'));
      const before = await snapshot(outside);
      const attempts = [
        () => writeWhole(writer, 'a/b/second', '2'),
        () => writer.writeWholeFile('a/b/third', Buffer.from('3'), { mode: 0o644 }),
        () => writer.writeWholeFile('a/b/fourth', Buffer.from('4'), { mode: 0o644 }, { sync: true }),
        () => writer.symlink('a/b/link', '/etc/passwd'),
        () => writer.mkdir('a/b/sub', { mode: 0o755 }),
      ];
      for (const attempt of attempts) await expectCode(attempt(), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
      expect(await tempLeftovers(base)).toEqual([]);
    });

    it('verifies again a directory it replaced itself with a symlink', async () => {
      const writer = await createWriter(out);
      await writer.mkdir('x', { mode: 0o755 });
      const probe = await writer.writeFile('x/probe', { mode: 0o644 });
      await probe.discard(); // x is now verified, and empty
      await writer.symlink('x', outside);
      expect(await readlink(join(out, 'x'))).toBe(outside);
      const before = await snapshot(outside);
      await expectCode(writeWhole(writer, 'x/victim', 'changed'), 'E_UNSAFE_PATH');
      await expectCode(writer.writeWholeFile('x/new', Buffer.from('x'), { mode: 0o644 }), 'E_UNSAFE_PATH');
      await writer.finish();
      expect(await snapshot(outside)).toEqual(before);
    });

    it('still refuses a swapped directory after hundreds of others were used since it was checked', async () => {
      const writer = await createWriter(out);
      for (let i = 0; i < 300; i++) await writer.writeWholeFile(`d${i}/f`, Buffer.from('x'), { mode: 0o644 });
      await rm(join(out, 'd0'), { recursive: true });
      await symlink(outside, join(out, 'd0'));
      const before = await snapshot(outside);
      await expectCode(
        writer.writeWholeFile('d0/victim', Buffer.from('changed'), { mode: 0o644 }),
        'E_UNSAFE_PATH',
      );
      await expectCode(writeWhole(writer, 'd0/new', 'x'), 'E_UNSAFE_PATH');
      await expectCode(
        writer.writeWholeFile('d0/sync', Buffer.from('x'), { mode: 0o644 }, { sync: true }),
        'E_UNSAFE_PATH',
      );
      expect(await snapshot(outside)).toEqual(before);
      await writer.finish();
    });

    it('a directory moved away during the run: followed by its handle when pinned, refused otherwise', async () => {
      // the documented residual of pinned mode: writes follow the directory the run verified (as openat
      // does); they never go through the symlink left in its place
      const writer = await createWriter(out);
      await writeWhole(writer, 'd/first', '1');
      await rename(join(out, 'd'), join(out, 'moved'));
      await symlink(outside, join(out, 'd'));
      const before = await snapshot(outside);
      const attempt = writeWhole(writer, 'd/second', '2');
      if (writer.pinsDirectories) {
        await attempt;
        expect(await readFile(join(out, 'moved/second'), 'utf8')).toBe('2');
      } else {
        await expectCode(attempt, 'E_UNSAFE_PATH');
      }
      expect(await snapshot(outside)).toEqual(before);
      await writer.finish();
    });

    it('after finish, opens the output directory again only if it is the same directory', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'd/first', '1');
      await writer.finish();
      await writeWhole(writer, 'd/again', '2');
      expect(await readFile(join(out, 'd/again'), 'utf8')).toBe('2');
      await writer.finish();
      await rename(out, join(base, 'old-out'));
      await symlink(outside, out);
      const before = await snapshot(outside);
      await expectCode(writeWhole(writer, 'd/third', '3'), 'E_UNSAFE_PATH');
      expect(await snapshot(outside)).toEqual(before);
    });
  });

  describe('SafeWriter hardlinks', () => {
    it('links to a file committed in this run', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'a/src', 'content');
      await writer.hardlink('b/link', 'a/src');
      const [s1, s2] = await Promise.all([stat(join(out, 'a/src')), stat(join(out, 'b/link'))]);
      expect(s2.ino).toBe(s1.ino);
      expect(s1.nlink).toBe(2);
    });

    it('refuses targets outside, through symlinks, or not written by the run', async () => {
      await symlink(join(outside, 'victim'), join(out, 'pre-link'));
      await writeFile(join(out, 'pre-existing'), 'old');
      const writer = await createWriter(out);
      await writer.symlink('img-link', join(outside, 'victim'));
      await expectCode(writer.hardlink('h1', '../outside/victim'), 'E_UNSAFE_PATH');
      await expectCode(writer.hardlink('h2', '/etc/passwd'), 'E_UNSAFE_PATH');
      await expectCode(writer.hardlink('h3', 'pre-link'), 'E_UNSAFE_PATH');
      await expectCode(writer.hardlink('h4', 'img-link'), 'E_UNSAFE_PATH');
      await expectCode(writer.hardlink('h5', 'pre-existing'), 'E_UNSAFE_PATH');
      expect((await stat(join(outside, 'victim'))).nlink).toBe(1);
      expect(await readdir(out)).toEqual(['img-link', 'pre-existing', 'pre-link'].sort());
    });

    it('refuses a target that was swapped for a symlink after commit', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'src', 'content');
      await rm(join(out, 'src'));
      await symlink(join(outside, 'victim'), join(out, 'src'));
      await expectCode(writer.hardlink('link', 'src'), 'E_UNSAFE_PATH');
      expect((await stat(join(outside, 'victim'))).nlink).toBe(1);
    });
  });

  describe('SafeWriter temp files', () => {
    it('shows nothing under the final name before commit, and nothing at all after abort', async () => {
      await writeFile(join(out, 'keep'), 'previous');
      const writer = await createWriter(out);
      const file = await writer.writeFile('keep', { mode: 0o644 });
      await file.write(Buffer.from('half of the new'));
      expect(await readFile(join(out, 'keep'), 'utf8')).toBe('previous');
      const fresh = await writer.writeFile('new', { mode: 0o644 });
      await fresh.write(Buffer.from('partial'));
      await expect(lstat(join(out, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
      await file.abort();
      await fresh.abort();
      await fresh.abort();
      expect(await readFile(join(out, 'keep'), 'utf8')).toBe('previous');
      expect(await readdir(out)).toEqual(['keep']);
    });

    it('abortAll removes every open temporary file', async () => {
      const writer = await createWriter(out);
      for (const name of ['x/1', 'x/2', 'y']) {
        const file = await writer.writeFile(name, { mode: 0o644 });
        await file.write(Buffer.from(name));
      }
      await writer.abortAll();
      expect(await tempLeftovers(out)).toEqual([]);
      expect(await readdir(join(out, 'x'))).toEqual([]);
    });

    it('writes at positions, reads back in order and replaces an existing file atomically', async () => {
      await writeFile(join(out, 'f'), 'old content');
      const writer = await createWriter(out);
      const file = await writer.writeFile('f', { mode: 0o640, mtime: new Date('2020-01-01T00:00:00Z') });
      await file.write(Buffer.from('world'), 6);
      await file.write(Buffer.from('hello '), 0);
      const chunks: Buffer[] = [];
      for await (const chunk of file.readBack()) chunks.push(Buffer.from(chunk));
      expect(Buffer.concat(chunks).toString()).toBe('hello world');
      await file.commit();
      const stats = await stat(join(out, 'f'));
      expect(await readFile(join(out, 'f'), 'utf8')).toBe('hello world');
      expect(stats.mode & 0o7777).toBe(0o640);
      expect(stats.mtime.toISOString()).toBe('2020-01-01T00:00:00.000Z');
    });

    it('replaces an empty directory by a file, refuses a non-empty one', async () => {
      await mkdir(join(out, 'empty'));
      await mkdir(join(out, 'full'));
      await symlink(outside, join(out, 'full', 'inner-link'));
      const before = await snapshot(outside);
      const writer = await createWriter(out);
      await writeWhole(writer, 'empty', 'now a file');
      expect(await readFile(join(out, 'empty'), 'utf8')).toBe('now a file');
      await expectCode(writeWhole(writer, 'full', 'x'), 'E_IO');
      expect((await lstat(join(out, 'full'))).isDirectory()).toBe(true);
      expect(await tempLeftovers(out)).toEqual([]);
      expect(await snapshot(outside)).toEqual(before);
    });

    it.each([
      ['through the thread pool', false],
      ['with blocking calls', true],
    ])(
      'writes a whole file %s: metadata, a temp dir of its own, directories in the way',
      async (_how, sync) => {
        await mkdir(join(out, 'empty'));
        await mkdir(join(out, 'full'));
        await writeFile(join(out, 'full', 'keep'), 'kept');
        const writer = await createWriter(out);
        await writer.mkdir('tmp', { mode: 0o700 });
        const mtime = new Date('2020-02-02T00:00:00Z');
        await writer.writeWholeFile(
          'a/f',
          Buffer.from('hello'),
          { mode: 0o751, mtime },
          { tempIn: 'tmp', sync },
        );
        const stats = await stat(join(out, 'a/f'));
        expect(await readFile(join(out, 'a/f'), 'utf8')).toBe('hello');
        expect(stats.mode & 0o7777).toBe(0o751);
        expect(stats.mtime.toISOString()).toBe(mtime.toISOString());
        await writer.writeWholeFile(
          'empty',
          Buffer.from('now a file'),
          { mode: 0o644 },
          { tempIn: 'tmp', sync },
        );
        expect(await readFile(join(out, 'empty'), 'utf8')).toBe('now a file');
        await expectCode(
          writer.writeWholeFile('full', Buffer.from('x'), { mode: 0o644 }, { tempIn: 'tmp', sync }),
          'E_IO',
        );
        expect(await readFile(join(out, 'full', 'keep'), 'utf8')).toBe('kept');
        await writer.hardlink('a/g', 'a/f');
        expect((await stat(join(out, 'a/g'))).ino).toBe(stats.ino);
        expect(await tempLeftovers(out)).toEqual([]);
        expect(await readdir(join(out, 'tmp'))).toEqual([]);
        await writer.finish();
      },
    );

    it('refuses to write under a path component that is a regular file', async () => {
      const writer = await createWriter(out);
      await writeWhole(writer, 'file', 'x');
      await expectCode(writeWhole(writer, 'file/child', 'y'), 'E_IO');
    });
  });

  describe('SafeWriter metadata', () => {
    it('keeps setuid/setgid only as root', async () => {
      const asUser = await createWriter(join(out, 'user'), { isRoot: false });
      await writeWhole(asUser, 'suid', 'x', 0o4755);
      expect((await stat(join(out, 'user/suid'))).mode & 0o7777).toBe(0o755);
      if (process.getuid?.() === 0) {
        const asRoot = await createWriter(join(out, 'root'), { isRoot: true });
        await writeWhole(asRoot, 'suid', 'x', 0o4755);
        await writeWhole(asRoot, 'sgid', 'x', 0o2711);
        expect((await stat(join(out, 'root/suid'))).mode & 0o7777).toBe(0o4755);
        expect((await stat(join(out, 'root/sgid'))).mode & 0o7777).toBe(0o2711);
      }
    });

    it('restores directory modes and mtimes at finish, deepest first', async () => {
      const writer = await createWriter(out);
      const mtime = new Date('2021-02-03T04:05:06Z');
      await writer.mkdir('ro', { mode: 0o555, mtime });
      await writer.mkdir('ro/inner', { mode: 0o750, mtime });
      await writeWhole(writer, 'ro/inner/file', 'x');
      await writer.finish();
      const outer = await stat(join(out, 'ro'));
      const inner = await stat(join(out, 'ro/inner'));
      expect(outer.mode & 0o7777).toBe(0o555);
      expect(inner.mode & 0o7777).toBe(0o750);
      expect(outer.mtime.toISOString()).toBe(mtime.toISOString());
      expect(inner.mtime.toISOString()).toBe(mtime.toISOString());
      await chmod(join(out, 'ro'), 0o755); // so that the temp dir can be removed when not root
    });

    it('sets symlink mtimes without touching the target', async () => {
      const writer = await createWriter(out);
      const mtime = new Date('2019-05-05T00:00:00Z');
      const victimBefore = await stat(join(outside, 'victim'));
      await writer.symlink('l', join(outside, 'victim'), { mode: 0o777, mtime });
      expect((await lstat(join(out, 'l'))).mtime.toISOString()).toBe(mtime.toISOString());
      expect((await stat(join(outside, 'victim'))).mtimeMs).toBe(victimBefore.mtimeMs);
    });

    it('skips devices and fifos with a warning when not root', async () => {
      const warnings: DownloadWarning[] = [];
      const writer = await createWriter(out, { isRoot: false, onWarning: (w) => warnings.push(w) });
      expect(await writer.special('dev/null', 'char', { mode: 0o666 }, { major: 1, minor: 3 })).toBe(false);
      expect(await writer.special('dev/fifo', 'fifo', { mode: 0o644 })).toBe(false);
      expect(warnings.map((w) => [w.code, w.path])).toEqual([
        ['device-skipped', 'dev/null'],
        ['device-skipped', 'dev/fifo'],
      ]);
      await expect(lstat(join(out, 'dev/null'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('creates devices and fifos when running as root, else skips them', async () => {
      const warnings: DownloadWarning[] = [];
      const writer = await createWriter(out, { onWarning: (w) => warnings.push(w) });
      const created = [
        await writer.special('dev/null', 'char', { mode: 0o666 }, { major: 1, minor: 3 }),
        await writer.special('dev/loop0', 'block', { mode: 0o660 }, { major: 7, minor: 0 }),
        await writer.special('dev/fifo', 'fifo', { mode: 0o644 }),
      ];
      if (process.getuid?.() !== 0) {
        expect(created).toEqual([false, false, false]);
        expect(warnings).toHaveLength(3);
        return;
      }
      expect(created).toEqual([true, true, true]);
      const nul = await lstat(join(out, 'dev/null'));
      expect(nul.isCharacterDevice()).toBe(true);
      expect(nul.rdev).toBe((1 << 8) | 3);
      expect(nul.mode & 0o7777).toBe(0o666);
      expect((await lstat(join(out, 'dev/loop0'))).isBlockDevice()).toBe(true);
      expect((await lstat(join(out, 'dev/fifo'))).isFIFO()).toBe(true);
      expect(await tempLeftovers(out)).toEqual([]);
    });

    it('keeps owners only with preserveOwner (or warns when it cannot)', async () => {
      const warnings: DownloadWarning[] = [];
      const plain = await createWriter(join(out, 'plain'));
      const owned = await createWriter(join(out, 'owned'), {
        preserveOwner: true,
        onWarning: (w) => warnings.push(w),
      });
      for (const writer of [plain, owned]) {
        const file = await writer.writeFile('f', { mode: 0o600, uid: 1000, gid: 1001 });
        await file.commit();
        await writer.symlink('l', 'f', { mode: 0o777, uid: 1000, gid: 1001 });
        await writer.mkdir('d', { mode: 0o755, uid: 1000, gid: 1001 });
        await writer.finish();
      }
      const me = process.getuid?.() ?? 0;
      for (const name of ['f', 'l', 'd']) {
        expect((await lstat(join(out, 'plain', name))).uid).toBe(me);
        const stats = await lstat(join(out, 'owned', name));
        if (me === 0) expect([stats.uid, stats.gid]).toEqual([1000, 1001]);
      }
      if (me !== 0) expect(warnings.map((w) => w.code)).toEqual(['owner-not-kept']);
      else expect(warnings).toEqual([]);
    });
  });
});
