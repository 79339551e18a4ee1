import { describe, expect, it } from 'vitest';
import { dereferenceEntries } from '../../../src/image/dereference.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import { dir, file, layer, symlink } from './toc-builder.js';

const index = new ImageIndex([
  layer(
    1,
    dir('usr/lib'),
    file('usr/lib/os-release', { size: 12 }),
    dir('usr/share/doc'),
    file('usr/share/doc/a.txt', { size: 3 }),
    symlink('usr/share/doc/loop', '..'),
    dir('etc'),
    symlink('etc/os-release', '../usr/lib/os-release'),
    symlink('etc/docs', '/usr/share/doc'),
    symlink('etc/gone', '/nowhere'),
    symlink('etc/chain', 'os-release'),
  ),
]);

const view = (patterns: string[]) =>
  dereferenceEntries(index, index.filterFiles(patterns)).map((e) => [e.path, e.type, e.size]);

describe('dereferenceEntries (get -L)', () => {
  it('replaces a link to a file by the file, under the link name', () => {
    expect(view(['etc/os-release'])).toEqual([['etc/os-release', 'reg', 12]]);
    expect(view(['etc/chain'])).toEqual([['etc/chain', 'reg', 12]]);
  });

  it('replaces a link to a directory by the tree, keeping links further down as links', () => {
    expect(view(['etc/docs'])).toEqual([
      ['etc/docs', 'dir', 0],
      ['etc/docs/a.txt', 'reg', 3],
      ['etc/docs/loop', 'symlink', 0],
    ]);
  });

  it('keeps a link that leads nowhere, and everything that is not a link', () => {
    expect(view(['etc/gone', 'usr/lib/'])).toEqual([
      ['etc/gone', 'symlink', 0],
      ['usr/lib', 'dir', 0],
      ['usr/lib/os-release', 'reg', 12],
    ]);
  });
});
