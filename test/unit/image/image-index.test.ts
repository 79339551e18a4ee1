import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import { dir, file, layer, symlink, whiteout } from './toc-builder.js';

const base = layer(
  1,
  file('.no.prefetch.landmark', { size: 1 }),
  dir('bin'),
  file('bin/echo', { size: 100 }),
  symlink('bin/sh', 'echo'),
  dir('etc', { mode: 0o750 }),
  file('etc/a.conf'),
  file('etc/.hidden.conf'),
  file('etc/sub/b.conf'),
  file('usr/lib/x.so'),
  file('usr/lib/a/y.so'),
  file('usr/lib/.cache/z.so'),
  file('data/file with spaces.txt'),
  file('data/-leading-dash'),
  file('data/ünïcødé-文件-😀.txt'),
  file('data/a[1].txt'),
);
const top = layer(
  2,
  file('.prefetch.landmark', { size: 1 }),
  whiteout('etc/.wh.a.conf'),
  file('usr/lib/new.so'),
  file('bin/echo', { size: 200 }),
);
const descriptor = {
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  digest: top.digest,
  size: 1234,
};
const index = new ImageIndex([base, { ...top, descriptor }]);
const paths = (entries: readonly { path: string }[]) => entries.map((e) => e.path);

function caught(fn: () => unknown): StargzError {
  try {
    fn();
  } catch (error) {
    if (StargzError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a StargzError');
}

describe('ImageIndex: the merged view', () => {
  it('lists every visible path in byte order, markers and whiteouts hidden', () => {
    expect(paths(index.entries())).toEqual([
      'bin',
      'bin/echo',
      'bin/sh',
      'data',
      'data/-leading-dash',
      'data/a[1].txt',
      'data/file with spaces.txt',
      'data/ünïcødé-文件-😀.txt',
      'etc',
      'etc/.hidden.conf',
      'etc/sub',
      'etc/sub/b.conf',
      'usr',
      'usr/lib',
      'usr/lib/.cache',
      'usr/lib/.cache/z.so',
      'usr/lib/a',
      'usr/lib/a/y.so',
      'usr/lib/new.so',
      'usr/lib/x.so',
    ]);
  });

  it('knows its layers, bottom to top, with their descriptors', () => {
    expect(index.layers).toEqual([
      { digest: base.digest, index: 0 },
      { digest: top.digest, index: 1, descriptor },
    ]);
  });

  it('findFile and stat take a leading / or ./, and report the winning layer', () => {
    expect(index.findFile('/bin/echo')).toMatchObject({ size: 200, layerIndex: 1, layerDigest: top.digest });
    expect(index.findFile('./etc')).toMatchObject({
      type: 'dir',
      mode: 0o750,
      layerIndex: 0,
      implied: false,
    });
    expect(index.stat('etc/a.conf')).toBeUndefined();
    const error = caught(() => index.findFile('etc/a.conf'));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain('"etc/a.conf"');
  });

  it('children lists one directory level', () => {
    expect(paths(index.children('/'))).toEqual(['bin', 'data', 'etc', 'usr']);
    expect(paths(index.children('usr/lib'))).toEqual([
      'usr/lib/.cache',
      'usr/lib/a',
      'usr/lib/new.so',
      'usr/lib/x.so',
    ]);
    expect(caught(() => index.children('bin/echo')).code).toBe('E_NOT_FOUND');
  });
});

describe('ImageIndex.filterFiles', () => {
  it.each([
    ['bin/echo', ['bin/echo']],
    ['/bin/echo', ['bin/echo']],
    ['bin', ['bin', 'bin/echo', 'bin/sh']],
    ['bin/', ['bin', 'bin/echo', 'bin/sh']],
    ['./bin', ['bin', 'bin/echo', 'bin/sh']],
    ['usr/lib/**/*.so', ['usr/lib/a/y.so', 'usr/lib/new.so', 'usr/lib/x.so']],
    ['etc/*.conf', []],
    ['etc/*', ['etc/sub', 'etc/sub/b.conf']],
    ['etc/.*', ['etc/.hidden.conf']],
    ['usr/lib/*/', ['usr/lib/a', 'usr/lib/a/y.so']],
    ['data/-leading-dash', ['data/-leading-dash']],
    ['data/file with spaces.txt', ['data/file with spaces.txt']],
    ['data/ünïcødé-文件-😀.txt', ['data/ünïcødé-文件-😀.txt']],
    ['data/a[1].txt', ['data/a[1].txt']],
    ['**/*.txt', ['data/a[1].txt', 'data/file with spaces.txt', 'data/ünïcødé-文件-😀.txt']],
  ] as const)('%s', (pattern, expected) => {
    if (expected.length === 0) {
      expect(caught(() => index.filterFiles(pattern)).code).toBe('E_NOT_FOUND');
    } else {
      expect(paths(index.filterFiles(pattern))).toEqual(expected);
    }
  });

  it('. / and the empty pattern select everything', () => {
    for (const pattern of ['.', '/', '', './']) expect(index.filterFiles(pattern)).toEqual(index.entries());
  });

  it('several patterns: union without duplicates, sorted', () => {
    expect(paths(index.filterFiles(['usr/lib/x.so', 'bin', 'bin/echo', 'usr/lib/*.so']))).toEqual([
      'bin',
      'bin/echo',
      'bin/sh',
      'usr/lib/new.so',
      'usr/lib/x.so',
    ]);
  });

  it('a matched directory brings everything below it, dotfiles too, unless expansion is off', () => {
    expect(paths(index.filterFiles('usr/*'))).toEqual(
      paths(index.entries()).filter((p) => p.startsWith('usr/')),
    );
    // `**` also matches zero segments, as bash's globstar does: `usr/**` names `usr` too
    expect(paths(index.filterFiles('usr/**', undefined, { expandDirectories: false }))).toEqual([
      'usr',
      'usr/lib',
      'usr/lib/a',
      'usr/lib/a/y.so',
      'usr/lib/new.so',
      'usr/lib/x.so',
    ]);
    expect(paths(index.filterFiles('bin', undefined, { expandDirectories: false }))).toEqual(['bin']);
  });

  it('no match is E_NOT_FOUND naming the pattern (the first failing one)', () => {
    const error = caught(() => index.filterFiles(['bin', 'nope/**/*.x']));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain('"nope/**/*.x"');
    expect(error.details).toMatchObject({ pattern: 'nope/**/*.x' });
  });

  it('a trailing / asks for a directory', () => {
    const error = caught(() => index.filterFiles('bin/echo/'));
    expect(error.message).toContain('no directory');
  });
});

describe('ImageIndex: one layer alone', () => {
  it('shows that layer by itself, normalised, whiteouts and landmarks hidden', () => {
    expect(paths(index.entries(top.digest))).toEqual([
      'bin',
      'bin/echo',
      'etc',
      'usr',
      'usr/lib',
      'usr/lib/new.so',
    ]);
    expect(index.findFile('etc', top.digest)).toMatchObject({ implied: true, layerIndex: 1 });
    expect(index.findFile('etc/a.conf', base.digest)).toMatchObject({ layerIndex: 0 });
    expect(index.findFile('bin/echo', base.digest).size).toBe(100);
    expect(paths(index.filterFiles('bin', base.digest))).toEqual(['bin', 'bin/echo', 'bin/sh']);
    expect(caught(() => index.filterFiles('bin/sh', top.digest)).message).toContain(top.digest);
  });

  it('accepts the digest without the algorithm, or a unique prefix of at least 12 hex digits', () => {
    const hex = top.digest.slice('sha256:'.length);
    expect(index.entries(hex)).toEqual(index.entries(top.digest));
    expect(index.entries(hex.slice(0, 12))).toEqual(index.entries(top.digest));
    expect(index.layer(`sha256:${hex.slice(0, 12)}`)).toEqual(index.layers[1]);
    expect(caught(() => index.layer(`sha512:${hex.slice(0, 12)}`)).code).toBe('E_NOT_FOUND');
    expect(index.layer(top.digest.toUpperCase().replace('SHA256', 'sha256'))).toEqual(index.layers[1]);
    expect(caught(() => index.entries(hex.slice(0, 11))).code).toBe('E_NOT_FOUND');
  });

  it('an unknown or ambiguous layer is E_NOT_FOUND listing the layers', () => {
    const error = caught(() => index.findFile('bin/echo', 'sha256:ffff'));
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.message).toContain(base.digest);
    expect(error.message).toContain(top.digest);
    expect(error.details).toMatchObject({ layers: [base.digest, top.digest] });
    const twins = new ImageIndex([
      { digest: `sha256:${'ab'.repeat(32)}`, toc: base.toc },
      { digest: `sha256:${'ab'.repeat(31)}cd`, toc: top.toc },
    ]);
    expect(caught(() => twins.entries('ab'.repeat(8))).message).toContain('several layers');
  });
});

describe('ImageIndex: deep trees', () => {
  // a chain of 4000 nested directories (paths of 8000 characters) and 100k files: no recursion limit, no
  // ancestor walk that breaks on depth (speed itself is the benchmark's business, not this test's)
  const depth = 4000;
  const dirs: string[] = [];
  for (let i = 0, path = ''; i < depth; i++) {
    path = path === '' ? 'd' : `${path}/d`;
    dirs.push(path);
  }
  const deepest = dirs[depth - 1] as string;
  const files = Array.from({ length: 96_000 }, (_, i) => file(`w/f${i}`));
  const entries = [...dirs.map((path) => dir(path)), ...files, file(`${deepest}/leaf`)];
  const deep = new ImageIndex([{ digest: `sha256:${'1'.repeat(64)}`, toc: { entries } }]);

  it('selects everything, a deep directory and a glob without blowing up', () => {
    expect(deep.filterFiles('/')).toHaveLength(depth + 1 + 96_001);
    expect(paths(deep.filterFiles(`${dirs[depth - 3]}/`))).toEqual([
      dirs[depth - 3],
      dirs[depth - 2],
      deepest,
      `${deepest}/leaf`,
    ]);
    expect(deep.filterFiles('d/**/leaf')).toHaveLength(1);
    expect(deep.findFile(`/${deepest}/leaf`).type).toBe('reg');
  });
});
