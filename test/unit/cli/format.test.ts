import { describe, expect, it } from 'vitest';
import {
  displayPath,
  formatBytes,
  formatInfo,
  formatInfoJson,
  formatList,
  formatListJson,
  formatLongList,
  formatModeString,
  formatOctalMode,
  type ListedEntry,
} from '../../../src/cli/format.js';

const L1 = `sha256:${'1'.repeat(64)}`;
const entries: ListedEntry[] = [
  { path: 'bin', type: 'dir', size: 0, mode: 0o755, mtime: '2020-01-01T00:00:00Z', layer: L1 },
  { path: 'bin/suid', type: 'reg', size: 20, mode: 0o4755, mtime: '2020-01-01T00:00:00Z', layer: L1 },
  { path: 'links/rel', type: 'symlink', size: 0, mode: 0o777, linkName: '../etc/hostname', layer: L1 },
  { path: 'other/hl', type: 'hardlink', size: 31, mode: 0o644, linkName: 'data/src', uid: 1000, gid: 1001 },
  { path: 'tmp', type: 'dir', size: 0, mode: 0o1777 },
];

describe('modes', () => {
  it.each([
    ['dir', 0o755, 'drwxr-xr-x'],
    ['reg', 0o644, '-rw-r--r--'],
    ['reg', 0o4755, '-rwsr-xr-x'],
    ['reg', 0o2755, '-rwxr-sr-x'],
    ['reg', 0o4644, '-rwSr--r--'],
    ['dir', 0o1777, 'drwxrwxrwt'],
    ['dir', 0o1770, 'drwxrwx--T'],
    ['symlink', 0o777, 'lrwxrwxrwx'],
    ['char', 0o666, 'crw-rw-rw-'],
    ['block', 0o660, 'brw-rw----'],
    ['fifo', 0o644, 'prw-r--r--'],
    ['hardlink', 0o600, 'hrw-------'],
  ] as const)('%s %o → %s', (type, mode, text) => {
    expect(formatModeString(type, mode)).toBe(text);
  });

  it('prints octal modes with four digits', () => {
    expect(formatOctalMode(0o755)).toBe('0755');
    expect(formatOctalMode(0o4755)).toBe('4755');
    expect(formatOctalMode(0o100644)).toBe('0644');
  });
});

describe('ls output', () => {
  it('prints one path per line, directories with a trailing slash, no leading slash', () => {
    expect(formatList(entries)).toBe('bin/\nbin/suid\nlinks/rel\nother/hl\ntmp/\n');
    expect(displayPath({ path: '/abs', type: 'reg' })).toBe('abs');
  });

  it('prints the long form with aligned columns and link targets', () => {
    const lines = formatLongList(entries).split('\n');
    expect(lines[0]).toBe('drwxr-xr-x 0/0        - 2020-01-01T00:00:00Z bin/');
    expect(lines[1]).toBe('-rwsr-xr-x 0/0       20 2020-01-01T00:00:00Z bin/suid');
    expect(lines[2]).toMatch(/^lrwxrwxrwx 0\/0 +- +- +links\/rel -> \.\.\/etc\/hostname$/);
    expect(lines[3]).toMatch(/^hrw-r--r-- 1000\/1001 +31 .* other\/hl link to data\/src$/);
    expect(lines[4]).toMatch(/^drwxrwxrwt .* tmp\/$/);
    // the path starts at the same column on every line, with or without an mtime
    const column = lines[0]!.indexOf('bin/');
    expect(lines[2]!.indexOf('links/rel')).toBe(column);
    expect(lines[3]!.indexOf('other/hl')).toBe(column);
  });

  it('prints the JSON array shape', () => {
    const parsed = JSON.parse(formatListJson(entries));
    expect(parsed[0]).toEqual({
      path: 'bin',
      type: 'dir',
      size: 0,
      mode: '0755',
      mtime: '2020-01-01T00:00:00Z',
      linkName: null,
      layer: L1,
    });
    expect(parsed[2]).toMatchObject({ type: 'symlink', linkName: '../etc/hostname', mtime: null });
    expect(parsed[3]).toMatchObject({ type: 'hardlink', linkName: 'data/src', layer: null });
    expect(parsed).toHaveLength(5);
  });
});

describe('info output', () => {
  const info = {
    reference: 'localhost:5000/app:v1',
    digest: `sha256:${'a'.repeat(64)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    platform: 'linux/amd64',
    layers: [
      {
        digest: L1,
        size: 340341,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        estargz: true,
        tocDigest: `sha256:${'7'.repeat(64)}`,
        footer: 'estargz',
      },
      {
        digest: `sha256:${'2'.repeat(64)}`,
        size: 99,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        estargz: false,
        tocDigest: null,
      },
    ],
  };

  it('prints the header and one row per layer', () => {
    const text = formatInfo(info);
    expect(text).toContain('Reference:  localhost:5000/app:v1\n');
    expect(text).toContain(`Digest:     sha256:${'a'.repeat(64)}\n`);
    expect(text).toContain('Platform:   linux/amd64\n');
    const rows = text.split('\n').filter((l) => l.startsWith('  '));
    expect(rows[0]).toMatch(/^ {2}# +DIGEST +SIZE +ESTARGZ +TOC DIGEST +MEDIA TYPE$/);
    expect(rows[1]).toMatch(new RegExp(`^  1  ${L1}  340341  yes +sha256:7{64}  application/vnd\\.oci`));
    expect(rows[2]).toMatch(/^ {2}2 +sha256:2{64} +99 +no +- +application/);
  });

  it('prints the JSON object', () => {
    expect(JSON.parse(formatInfoJson(info))).toEqual(info);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [10 * 1024 * 1024, '10.0 MiB'],
  ])('%d → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});
