import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { mergeLayers } from '../../../src/image/merge.js';
import type { IndexEntry } from '../../../src/image/types.js';
import { dir, entry, file, hardlink, layer, symlink, whiteout } from './toc-builder.js';

/** One line per view entry: `path type mode@layer`, plus `implied` and `=>hardlinkOf` when set. */
function describeView(view: Map<string, IndexEntry>): string[] {
  return [...view.values()].map((e) => {
    let line = `${e.path} ${e.type} ${e.mode.toString(8).padStart(4, '0')}@${e.layerIndex}`;
    if (e.implied) line += ' implied';
    if (e.hardlinkOf !== undefined) line += ` =>${e.hardlinkOf}`;
    return line;
  });
}

const merge = (...layers: ReturnType<typeof layer>[]) => describeView(mergeLayers(layers));

describe('mergeLayers: one layer', () => {
  it('implies missing parent directories with mode 0755, uid/gid 0 and no mtime', () => {
    const view = mergeLayers([layer(1, file('a/b/c.txt', { uid: 5, gid: 6 }))]);
    expect(describeView(view)).toEqual([
      'a dir 0755@0 implied',
      'a/b dir 0755@0 implied',
      'a/b/c.txt reg 0644@0',
    ]);
    const a = view.get('a')!;
    expect([a.uid, a.gid, a.modtime, a.sourcePath]).toEqual([0, 0, undefined, undefined]);
    expect(view.get('a/b/c.txt')!.uid).toBe(5);
  });

  it('normalises names: ./, leading /, .., trailing / of directories', () => {
    expect(
      merge(
        layer(
          1,
          entry('./dot', { type: 'reg' }),
          entry('/abs', { type: 'reg' }),
          entry('../up', { type: 'reg' }),
          entry('a/../../b', { type: 'reg' }),
          entry('d//e/./f/', { type: 'dir', mode: 0o700 }),
        ),
      ),
    ).toEqual([
      'abs reg 0644@0',
      'b reg 0644@0',
      'd dir 0755@0 implied',
      'd/e dir 0755@0 implied',
      'd/e/f dir 0700@0',
      'dot reg 0644@0',
      'up reg 0644@0',
    ]);
  });

  it('hides landmarks and the TOC file at the root only, and never lists the root', () => {
    expect(
      merge(
        layer(
          1,
          entry('./', { type: 'dir', mode: 0o700 }),
          file('.prefetch.landmark', { size: 1 }),
          file('.no.prefetch.landmark', { size: 1 }),
          file('stargz.index.json'),
          file('sub/.prefetch.landmark'),
          file('sub/stargz.index.json'),
        ),
      ),
    ).toEqual([
      'sub dir 0755@0 implied',
      'sub/.prefetch.landmark reg 0644@0',
      'sub/stargz.index.json reg 0644@0',
    ]);
  });

  it('keeps the later of two entries with the same name in one layer', () => {
    expect(merge(layer(1, file('x', { mode: 0o600 }), symlink('x', 'y')))).toEqual(['x symlink 0777@0']);
  });

  it('sorts by UTF-8 byte order, not UTF-16 order and not tree order', () => {
    const names = ['a/x', 'a b', 'a', '\u{ff5e}', '\u{1f600}', 'Z', 'é'];
    const view = mergeLayers([layer(1, ...names.map((n) => (n === 'a' ? dir(n) : file(n))))]);
    const expected = [...view.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...view.keys()]).toEqual(expected);
    expect([...view.keys()]).toEqual(['Z', 'a', 'a b', 'a/x', 'é', '\u{ff5e}', '\u{1f600}']);
  });

  it('keeps the fields of every entry type', () => {
    const view = mergeLayers([
      layer(
        1,
        entry('dev/null', { type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 }),
        entry('dev/loop0', { type: 'block', devMajor: 7, devMinor: 0 }),
        entry('dev/fifo', { type: 'fifo' }),
        symlink('l', '../../etc/passwd'),
        file('x', { xattrs: { 'user.a': 'b' }, size: 3 }),
      ),
    ]);
    expect(view.get('dev/null')).toMatchObject({
      type: 'char',
      devMajor: 1,
      devMinor: 3,
      size: 0,
      chunks: [],
    });
    expect(view.get('dev/loop0')).toMatchObject({ type: 'block', devMajor: 7, devMinor: 0 });
    const fifo = view.get('dev/fifo')!;
    expect([fifo.type, fifo.devMajor, fifo.linkName]).toEqual(['fifo', undefined, undefined]);
    const l = view.get('l')!;
    expect([l.type, l.linkName, l.digest, l.size]).toEqual(['symlink', '../../etc/passwd', undefined, 0]);
    const x = view.get('x')!;
    expect(new TextDecoder().decode(x.xattrs['user.a'])).toBe('b');
    expect([x.size, x.chunks.length, x.digest?.startsWith('sha256:'), x.sourcePath]).toEqual([
      3,
      1,
      true,
      'x',
    ]);
  });
});

describe('mergeLayers: replacement across layers', () => {
  it('a later entry replaces an earlier one whatever the types', () => {
    expect(
      merge(
        layer(1, file('f2d'), dir('d2f'), file('d2f/sub/child'), file('f2l'), symlink('l2f', 'x')),
        layer(
          2,
          dir('f2d', { mode: 0o700 }),
          file('f2d/child'),
          file('d2f'),
          symlink('f2l', 'f2d'),
          file('l2f'),
        ),
      ),
    ).toEqual([
      'd2f reg 0644@1',
      'f2d dir 0700@1',
      'f2d/child reg 0644@1',
      'f2l symlink 0777@1',
      'l2f reg 0644@1',
    ]);
  });

  it('merges directories: lower children stay, metadata from the highest explicit entry', () => {
    const view = mergeLayers([
      layer(1, dir('d', { mode: 0o750, uid: 1 }), file('d/low'), dir('e', { mode: 0o700 }), file('e/x')),
      layer(2, dir('d', { mode: 0o755, uid: 2 }), file('d/high'), file('e/y')),
      layer(3, file('e/z')),
    ]);
    expect(describeView(view)).toEqual([
      'd dir 0755@1',
      'd/high reg 0644@1',
      'd/low reg 0644@0',
      'e dir 0700@0',
      'e/x reg 0644@0',
      'e/y reg 0644@1',
      'e/z reg 0644@2',
    ]);
    expect(view.get('d')!.uid).toBe(2);
    expect(view.get('e')!.implied).toBe(false);
  });

  it('an implied directory reports the highest layer implying it', () => {
    expect(merge(layer(1, file('a/x')), layer(2, file('a/y')))).toEqual([
      'a dir 0755@1 implied',
      'a/x reg 0644@0',
      'a/y reg 0644@1',
    ]);
  });

  it('an upper implied directory replaces a lower symlink or file (no following)', () => {
    expect(
      merge(
        layer(1, symlink('evil-link', '/tmp'), file('plain')),
        layer(2, file('evil-link/pwned'), file('plain/x')),
      ),
    ).toEqual([
      'evil-link dir 0755@1 implied',
      'evil-link/pwned reg 0644@1',
      'plain dir 0755@1 implied',
      'plain/x reg 0644@1',
    ]);
  });

  it('paths under something that is no longer a directory vanish', () => {
    expect(merge(layer(1, file('a/b/c/d')), layer(2, symlink('a/b', '/etc')))).toEqual([
      'a dir 0755@1 implied',
      'a/b symlink 0777@1',
    ]);
  });
});

describe('mergeLayers: whiteouts', () => {
  it('.wh.NAME deletes a lower file, and a lower directory with everything below it', () => {
    expect(
      merge(
        layer(
          1,
          file('keep'),
          file('gone'),
          dir('tree'),
          file('tree/a/b/c'),
          file('to-delete/file.txt'),
          file('to-delete/keep.txt'),
        ),
        layer(2, whiteout('.wh.gone'), whiteout('.wh.tree'), whiteout('to-delete/.wh.file.txt')),
      ),
    ).toEqual(['keep reg 0644@0', 'to-delete dir 0755@1 implied', 'to-delete/keep.txt reg 0644@0']);
  });

  it('affects only lower layers: the same layer and higher ones may recreate the name', () => {
    expect(
      merge(
        layer(1, file('a/x'), file('b')),
        layer(2, whiteout('.wh.a'), file('a/y'), file('b'), whiteout('.wh.b')),
        layer(3, file('a/x')),
      ),
    ).toEqual(['a dir 0755@2 implied', 'a/x reg 0644@2', 'a/y reg 0644@1', 'b reg 0644@1']);
  });

  it('a whiteout of something absent, or under a non-directory, changes nothing but implies its directory', () => {
    expect(merge(layer(1, file('f')), layer(2, whiteout('.wh.nothing'), whiteout('f/.wh.x')))).toEqual([
      'f dir 0755@1 implied',
    ]);
    expect(merge(layer(1, file('f')), layer(2, whiteout('.wh.nothing')))).toEqual(['f reg 0644@0']);
  });

  it('whiteout files, aufs meta files and anything under a .wh. name are never visible', () => {
    expect(
      merge(
        layer(1, file('.wh..wh.plnk/123'), file('x')),
        layer(2, whiteout('.wh..wh.aufs'), whiteout('d/.wh.y'), file('.wh.dir/child'), whiteout('.wh.')),
      ),
    ).toEqual(['d dir 0755@1 implied', 'x reg 0644@0']);
  });

  it('an opaque marker hides lower children of DIR but keeps DIR and its same-layer children', () => {
    const view = mergeLayers([
      layer(1, dir('opaque', { mode: 0o755 }), file('opaque/a'), file('opaque/sub/deep'), file('outside')),
      layer(2, dir('opaque', { mode: 0o700 }), whiteout('opaque/.wh..wh..opq'), file('opaque/c')),
      layer(3, file('opaque/d')),
    ]);
    expect(describeView(view)).toEqual([
      'opaque dir 0700@1',
      'opaque/c reg 0644@1',
      'opaque/d reg 0644@2',
      'outside reg 0644@0',
    ]);
  });

  it('an opaque marker without a directory entry keeps the lower directory metadata', () => {
    expect(
      merge(layer(1, dir('o', { mode: 0o711 }), file('o/a')), layer(2, whiteout('o/.wh..wh..opq'))),
    ).toEqual(['o dir 0711@0']);
  });

  it('an opaque marker at the root hides every lower path', () => {
    expect(merge(layer(1, file('a'), file('b/c')), layer(2, whiteout('.wh..wh..opq'), file('d')))).toEqual([
      'd reg 0644@1',
    ]);
  });
});

describe('mergeLayers: hardlinks', () => {
  it('resolve to the target content and metadata, with hardlinkOf when the target is visible from the same layer', () => {
    const view = mergeLayers([
      layer(
        1,
        file('data/src', { size: 31, mode: 0o640 }),
        hardlink('other/link', 'data/src'),
        hardlink('./other/link2', './data/src'),
      ),
    ]);
    const link = view.get('other/link')!;
    const src = view.get('data/src')!;
    expect(link).toMatchObject({
      type: 'reg',
      size: 31,
      mode: 0o640,
      hardlinkOf: 'data/src',
      sourcePath: 'data/src',
    });
    expect(link.digest).toBe(src.digest);
    expect(link.chunks).toEqual(src.chunks);
    expect(view.get('other/link2')!.hardlinkOf).toBe('data/src');
    expect(src.hardlinkOf).toBeUndefined();
  });

  it('a hardlink whose first name is whited out becomes a plain file holding the content', () => {
    const view = mergeLayers([
      layer(1, file('data/hl-orig', { size: 75 }), hardlink('other/hl-survivor', 'data/hl-orig')),
      layer(2, whiteout('data/.wh.hl-orig')),
    ]);
    expect(describeView(view)).toEqual([
      'data dir 0755@1 implied',
      'other dir 0755@0 implied',
      'other/hl-survivor reg 0644@0',
    ]);
    expect(view.get('other/hl-survivor')).toMatchObject({ size: 75, sourcePath: 'data/hl-orig' });
    expect(view.get('other/hl-survivor')!.hardlinkOf).toBeUndefined();
  });

  it('a hardlink whose target is replaced in a higher layer keeps the old content as a plain file', () => {
    const view = mergeLayers([
      layer(1, file('t', { size: 5 }), hardlink('h', 't')),
      layer(2, file('t', { size: 9 })),
    ]);
    expect(view.get('h')).toMatchObject({ size: 5, layerIndex: 0 });
    expect(view.get('h')!.hardlinkOf).toBeUndefined();
    expect(view.get('t')).toMatchObject({ size: 9, layerIndex: 1 });
  });

  it('a hardlink replaced by a higher layer is just replaced; a whiteout of the link leaves the target', () => {
    expect(
      merge(
        layer(1, file('t'), hardlink('h', 't'), hardlink('h2', 't')),
        layer(2, file('h'), whiteout('.wh.h2')),
      ),
    ).toEqual(['h reg 0644@1', 't reg 0644@0']);
  });

  it('follows chains and links to symlinks', () => {
    const view = mergeLayers([
      layer(
        1,
        file('a', { size: 4 }),
        hardlink('b', 'a'),
        hardlink('c', 'b'),
        symlink('s', 'a'),
        hardlink('hs', 's'),
      ),
    ]);
    expect(view.get('c')).toMatchObject({ type: 'reg', size: 4, sourcePath: 'a', hardlinkOf: 'b' });
    expect(view.get('hs')).toMatchObject({ type: 'symlink', linkName: 'a', hardlinkOf: 's' });
  });

  it('a hardlink to nothing earlier in its layer is E_TOC_INVALID naming layer and path', () => {
    const bad = [layer(1, file('x')), layer(2, hardlink('h', 'x'))];
    expect(() => mergeLayers(bad)).toThrow(StargzError);
    try {
      mergeLayers(bad);
    } catch (error) {
      expect((error as StargzError).code).toBe('E_TOC_INVALID');
      expect((error as StargzError).message).toContain(bad[1]!.digest);
      expect((error as StargzError).message).toContain('"h"');
    }
    expect(() => mergeLayers([layer(1, dir('d'), hardlink('h', 'd'))])).toThrow(/non-directory/);
  });
});

describe('mergeLayers: size', () => {
  it('merges 60,000 entries per layer over several layers, with whole-tree whiteouts, and keeps every rule', () => {
    const perDir = 100;
    const dirs = 600;
    const lower = [];
    for (let d = 0; d < dirs; d++) {
      lower.push(dir(`usr/lib/d${d}`));
      for (let f = 0; f < perDir - 1; f++) lower.push(file(`usr/lib/d${d}/f${f}.so`));
    }
    expect(lower.length).toBe(60_000);
    const middle = lower.map((e) => ({ ...e })); // the same 60k paths again: every one replaced
    const upper = [whiteout('usr/.wh.lib'), whiteout('.wh..wh..opq'), ...lower.slice(0, 59_999)];
    const first = mergeLayers([layer(1, ...lower)]);
    expect(first.size).toBe(60_002); // + implied usr and usr/lib
    const all = mergeLayers([layer(1, ...lower), layer(2, ...middle), layer(3, ...upper)]);
    expect(all.size).toBe(60_001);
    expect(all.get('usr/lib/d599/f98.so')).toBeUndefined(); // whited out below, not in the top layer
    expect(all.get('usr/lib/d0/f0.so')!.layerIndex).toBe(2);
    expect(all.get('usr')!.implied).toBe(true);
    const keys = [...all.keys()];
    expect(keys.slice(0, 3)).toEqual(['usr', 'usr/lib', 'usr/lib/d0']);
  });
});
