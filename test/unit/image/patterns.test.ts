import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../../src/image/patterns.js';

describe('compilePattern: shape', () => {
  it.each([
    // source, path, isLiteral, matchAll, directoryOnly
    ['bin/echo', 'bin/echo', true, false, false],
    ['/bin/echo', 'bin/echo', true, false, false],
    ['./bin/echo', 'bin/echo', true, false, false],
    ['bin/', 'bin', true, false, true],
    ['/bin/', 'bin', true, false, true],
    ['bin', 'bin', true, false, false],
    ['bin//echo', 'bin/echo', true, false, false],
    ['../../bin', 'bin', true, false, false],
    ['.', '', true, true, false],
    ['/', '', true, true, false],
    ['./', '', true, true, false],
    ['', '', true, true, false],
    ['usr/lib/**/*.so', 'usr/lib/**/*.so', false, false, false],
    ['/etc/*.conf', 'etc/*.conf', false, false, false],
    ['etc/*/', 'etc/*', false, false, true],
    ['data/-leading-dash', 'data/-leading-dash', true, false, false],
    ['data/file with spaces.txt', 'data/file with spaces.txt', true, false, false],
    ['data/ünïcødé-文件-😀.txt', 'data/ünïcødé-文件-😀.txt', true, false, false],
    ['a[12].txt', 'a[12].txt', false, false, false],
    ['{a,b}/x', '{a,b}/x', false, false, false],
  ] as const)('%j', (source, path, isLiteral, matchAll, directoryOnly) => {
    const p = compilePattern(source);
    expect({
      source: p.source,
      path: p.path,
      isLiteral: p.isLiteral,
      matchAll: p.matchAll,
      directoryOnly: p.directoryOnly,
    }).toEqual({ source, path, isLiteral, matchAll, directoryOnly });
  });
});

describe('compilePattern: matching', () => {
  it.each([
    // pattern, path, matches
    ['bin/echo', 'bin/echo', true],
    ['bin/echo', 'bin/echo2', false],
    ['bin/echo', 'usr/bin/echo', false],
    ['.', 'anything/at/all', true],
    ['etc/*.conf', 'etc/a.conf', true],
    ['etc/*.conf', 'etc/sub/a.conf', false],
    ['etc/*.conf', 'etc/.hidden.conf', false],
    ['etc/.*', 'etc/.hidden.conf', true],
    ['usr/lib/**/*.so', 'usr/lib/x.so', true],
    ['usr/lib/**/*.so', 'usr/lib/a/b/x.so', true],
    ['usr/lib/**/*.so', 'usr/lib/.cache/x.so', false],
    ['usr/lib/**/*.so', 'usr/lib/a/x.so.1', false],
    ['**', 'a/b/c', true],
    ['**', '.git/config', false],
    ['**/.bashrc', 'home/user/.bashrc', true],
    ['**/*.txt', 'data/file with spaces.txt', true],
    ['data/*文件*', 'data/ünïcødé-文件-😀.txt', true],
    ['data/-*', 'data/-leading-dash', true],
    ['data/-*', 'data/--double-dash --x', true],
    ['{etc,bin}/x', 'bin/x', true],
    ['{etc,bin}/x', 'sbin/x', false],
    ['a[12].txt', 'a1.txt', true],
    ['a[12].txt', 'a[12].txt', true], // a glob also names the path spelled like it
    ['a?c', 'a/c', false], // ? never crosses a /
    ['/etc/*', 'etc/passwd', true],
    ['Etc/*', 'etc/passwd', false], // case sensitive
  ] as const)('%s ~ %s → %s', (pattern, path, matches) => {
    expect(compilePattern(pattern).matches(path)).toBe(matches);
  });
});
