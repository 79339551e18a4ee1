import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { findTarFile, readTarEntries } from '../../../src/estargz/tar.js';

const work = mkdtempSync(join(tmpdir(), 'starget-tar-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const longName = `${longDir}/${'f'.repeat(80)}.txt`;

/** Builds a tar with GNU tar in the given format from a small tree. */
function makeTar(format: 'gnu' | 'pax' | 'ustar'): Buffer {
  const root = mkdtempSync(join(work, `${format}-`));
  writeFileSync(join(root, 'stargz.index.json'), '{"version":1}');
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', 'a.txt'), 'alpha');
  symlinkSync('a.txt', join(root, 'sub', 'link'));
  const members = ['stargz.index.json', 'sub', 'sub/a.txt', 'sub/link'];
  if (format !== 'ustar') {
    mkdirSync(join(root, longDir), { recursive: true });
    writeFileSync(join(root, longName), 'long');
    members.push(longName);
  }
  const out = join(work, `${format}.tar`);
  execFileSync('tar', [
    '--format',
    format,
    '--no-recursion',
    '--owner=0',
    '--group=0',
    '-C',
    root,
    '-cf',
    out,
    ...members,
  ]);
  return readFileSync(out);
}

describe('readTarEntries', () => {
  it.each(['gnu', 'pax', 'ustar'] as const)('reads a %s archive written by GNU tar', (format) => {
    const tar = makeTar(format);
    const entries = [...readTarEntries(tar)];
    const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
    expect(Buffer.from(byName.get('sub/a.txt')?.data ?? []).toString()).toBe('alpha');
    expect(byName.get('sub/a.txt')?.typeflag).toBe('0');
    expect(byName.get('sub')?.typeflag).toBe('5');
    expect(byName.get('sub/link')).toMatchObject({ typeflag: '2', linkName: 'a.txt', size: 0 });
    if (format !== 'ustar') {
      expect(Buffer.from(byName.get(longName)?.data ?? []).toString()).toBe('long');
    }
    expect(Buffer.from(findTarFile(tar, 'stargz.index.json') ?? []).toString()).toBe('{"version":1}');
  });

  it('returns undefined when the archive has no such file', () => {
    expect(findTarFile(makeTar('ustar'), 'missing.json')).toBeUndefined();
    expect(findTarFile(new Uint8Array(0), 'stargz.index.json')).toBeUndefined();
  });

  it.each([
    ['a corrupt header checksum', (tar: Buffer) => tar.fill(0x41, 0, 10)],
    ['a non-octal size', (tar: Buffer) => tar.fill(0x39, 124, 130)],
    ['an archive cut inside a payload', (tar: Buffer) => tar.subarray(0, 520)],
    ['an archive cut inside a header', (tar: Buffer) => tar.subarray(0, 300)],
  ])('rejects %s with E_TOC_INVALID', (_label, damage) => {
    const tar = damage(Buffer.from(makeTar('ustar')));
    let error: unknown;
    try {
      findTarFile(tar, 'no-such-entry');
    } catch (e) {
      error = e;
    }
    expect(StargzError.is(error) && error.code).toBe('E_TOC_INVALID');
  });
});
