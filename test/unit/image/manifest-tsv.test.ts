import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageIndex } from '../../../src/image/image-index.js';
import {
  diffManifest,
  formatManifestRow,
  manifestRows,
  parseManifestTsv,
  quoteGo,
} from '../../helpers/manifest-tsv.js';
import { dir, entry, file, hardlink, layer, symlink } from './toc-builder.js';

const IMAGES = join(import.meta.dirname, '../../fixtures/images');

function oracleFiles(): string[] {
  const files: string[] = [];
  for (const image of readdirSync(IMAGES)) {
    const expected = join(IMAGES, image, 'expected');
    for (const name of readdirSync(expected, { withFileTypes: true })) {
      if (name.isDirectory()) files.push(join(expected, name.name, 'manifest.tsv'));
      else if (name.name === 'manifest.tsv') files.push(join(expected, name.name));
    }
  }
  return files;
}

describe('manifest.tsv reader', () => {
  it.each(oracleFiles().map((f) => [f.slice(IMAGES.length + 1)]))(
    '%s parses and prints back byte for byte',
    (rel) => {
      const text = readFileSync(join(IMAGES, rel), 'utf8');
      const rows = parseManifestTsv(text);
      const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      expect(rows.map(formatManifestRow)).toEqual(lines);
      expect(rows.length).toBeGreaterThan(0);
    },
  );

  it('rejects a line with the wrong number of columns', () => {
    expect(() => parseManifestTsv('#h\na\tb\n')).toThrow(/columns/);
  });
});

describe('manifest rows from an ImageIndex', () => {
  it('follows the column conventions of the README', () => {
    const index = new ImageIndex([
      layer(
        1,
        dir('d', { mode: 0o1777, xattrs: { 'user.z': 'last', 'user.a': 'say "hi"\n' } }),
        file('d/f', { size: 3, digest: `sha256:${'ab'.repeat(32)}`, mode: 0o4755, uid: 1000, gid: 1001 }),
        hardlink('d/h', 'd/f'),
        symlink('d/s', '/abs/target'),
        entry('dev/null', { type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 }),
        entry('dev/fifo', { type: 'fifo' }),
        file('empty', { size: 0, digest: undefined }),
      ),
    ]);
    const lines = manifestRows(index.entries()).map(formatManifestRow);
    const t = '2020-01-01T00:00:00Z';
    expect(lines).toEqual([
      `d\tdir\t1777\t0\t0\t-\t-\t-\t${t}\tuser.a="say \\"hi\\"\\n";user.z="last"\t-`,
      `d/f\treg\t4755\t1000\t1001\t3\t${'ab'.repeat(32)}\t-\t${t}\t-\t-`,
      `d/h\treg\t4755\t1000\t1001\t3\t${'ab'.repeat(32)}\t-\t${t}\t-\td/f`,
      `d/s\tsymlink\t0777\t0\t0\t-\t-\t/abs/target\t${t}\t-\t-`,
      `dev\tdir\t0755\t0\t0\t-\t-\t-\t-\t-\t-`,
      `dev/fifo\tfifo\t0644\t0\t0\t-\t-\t-\t${t}\t-\t-`,
      `dev/null\tchar\t0666\t0\t0\t-\t-\t1,3\t${t}\t-\t-`,
      `empty\treg\t0644\t0\t0\t0\t${'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}\t-\t${t}\t-\t-`,
    ]);
  });

  it('diffManifest names missing, unexpected and differing rows, and order', () => {
    const rows = parseManifestTsv(
      '#\na\tdir\t0755\t0\t0\t-\t-\t-\t-\t-\t-\nb\treg\t0644\t0\t0\t1\tx\t-\t-\t-\t-\n',
    );
    expect(diffManifest(rows, rows)).toEqual([]);
    expect(diffManifest(rows, [...rows].reverse())).toEqual(['same rows in a different order']);
    const changed = [
      { ...rows[0]!, mode: '0700' },
      { ...rows[1]!, path: 'c' },
    ];
    expect(diffManifest(rows, changed)).toEqual([
      'a: mode expected 0755 got 0700',
      `missing: ${formatManifestRow(rows[1]!)}`,
      `unexpected: ${formatManifestRow(changed[1]!)}`,
    ]);
  });
});

describe('quoteGo (strconv.Quote)', () => {
  const bytes = (...b: number[]) => new Uint8Array(b);
  const utf8 = (s: string) => new TextEncoder().encode(s);
  it.each([
    [utf8('plain text'), '"plain text"'],
    [utf8('q"b\\'), '"q\\"b\\\\"'],
    [utf8('\n\t\r\x07\x08\x0c\x0b'), '"\\n\\t\\r\\a\\b\\f\\v"'],
    [bytes(0x00, 0x1f, 0x7f), '"\\x00\\x1f\\x7f"'],
    [bytes(0xff, 0x41, 0xc3), '"\\xffA\\xc3"'],
    [bytes(0xc0, 0x80), '"\\xc0\\x80"'], // overlong
    [utf8('ünï文😀'), '"ünï文😀"'],
    [utf8('\u00a0\u200b\u{e0001}'), '"\\u00a0\\u200b\\U000e0001"'],
  ])('%j → %s', (input, expected) => {
    expect(quoteGo(input)).toBe(expected);
  });
});
