import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import { dir, file, layer, symlink } from './toc-builder.js';

// a merged-/usr image: bin -> usr/bin, plus links of every sort
const index = new ImageIndex([
  layer(
    1,
    dir('usr/bin'),
    file('usr/bin/ls', { size: 30 }),
    file('usr/bin/bash', { size: 40 }),
    symlink('bin', 'usr/bin'),
    symlink('usr/bin/sh', 'bash'),
    symlink('lib', '/usr/lib'),
    dir('usr/lib'),
    file('usr/lib/libc.so', { size: 50 }),
    dir('etc'),
    symlink('etc/escape', '../../../../usr/bin/ls'),
    symlink('loop-a', 'loop-b'),
    symlink('loop-b', 'loop-a'),
    file('etc/hostname'),
  ),
]);

describe('ImageIndex.resolvePath', () => {
  it.each([
    ['bin/ls', {}, 'usr/bin/ls'],
    ['/bin/bash', {}, 'usr/bin/bash'],
    ['bin/sh', {}, 'usr/bin/sh'],
    ['bin/sh', { followFinal: true }, 'usr/bin/bash'],
    ['lib/libc.so', {}, 'usr/lib/libc.so'],
    ['bin', {}, 'bin'],
    ['bin', { followFinal: true }, 'usr/bin'],
    ['etc/escape', { followFinal: true }, 'usr/bin/ls'],
    ['usr/bin/../lib/libc.so', {}, 'usr/lib/libc.so'],
  ])('%s %o → %s', (path, options, expected) => {
    expect(index.resolvePath(path, undefined, options)).toBe(expected);
  });

  it.each([['bin/missing'], ['etc/hostname/x'], ['loop-a/x']])('%s leads nowhere', (path) => {
    expect(index.resolvePath(path, undefined, { followFinal: true })).toBeUndefined();
  });

  it('findFile and literal patterns go through symlinked parent directories', () => {
    expect(index.findFile('bin/ls').path).toBe('usr/bin/ls');
    expect(index.findFile('bin/sh').type).toBe('symlink');
    expect(index.findFile('bin/sh', undefined, { followFinal: true }).path).toBe('usr/bin/bash');
    expect(index.filterFiles('bin/ls').map((e) => e.path)).toEqual(['usr/bin/ls']);
    expect(index.filterFiles('lib/').map((e) => e.path)).toEqual(['usr/lib', 'usr/lib/libc.so']);
    expect(() => index.findFile('loop-a', undefined, { followFinal: true })).toThrow(StargzError);
  });
});
