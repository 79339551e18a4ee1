import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { FOOTER_SIZE_ESTARGZ, FOOTER_SIZE_LEGACY, parseFooter } from '../../../src/estargz/footer.js';
import { footerBytes } from '../../helpers/estargz-writer.js';

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../../fixtures/layers/${name}`, import.meta.url));

/** A blob of `dataSize` filler bytes followed by `footer`. */
function blobWith(footer: Uint8Array, dataSize = 1000): Buffer {
  return Buffer.concat([Buffer.alloc(dataSize, 0x41), footer]);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(StargzError.is(error)).toBe(true);
    return (error as StargzError).code;
  }
  return undefined;
}

describe('parseFooter', () => {
  it('reads the fixture footers exactly as their oracles say', () => {
    for (const name of ['estargz-basic', 'legacy-basic', 'estargz-empty', 'estargz-chunked']) {
      const oracle = JSON.parse(fixture(`${name}.json`).toString());
      const blob = fixture(`${name}.blob`);
      expect(parseFooter(blob.subarray(blob.length - 51), blob.length)).toEqual({
        kind: oracle.footer.kind,
        size: oracle.footer.size,
        tocOffset: oracle.footer.tocOffset,
      });
      expect(blob.subarray(blob.length - oracle.footer.size).toString('hex')).toBe(oracle.footer.hex);
    }
  });

  it('exports the two footer sizes', () => {
    expect(FOOTER_SIZE_ESTARGZ).toBe(51);
    expect(FOOTER_SIZE_LEGACY).toBe(47);
    expect(footerBytes(5, 'estargz')).toHaveLength(51);
    expect(footerBytes(5, 'legacy')).toHaveLength(47);
  });

  it('accepts the whole blob as the tail when the blob is small', () => {
    const blob = blobWith(footerBytes(0, 'legacy'), 20);
    expect(parseFooter(blob, blob.length)).toEqual({ kind: 'legacy', size: 47, tocOffset: 0 });
  });

  it('accepts upper-case hex digits in the offset', () => {
    const footer = footerBytes(0xab, 'estargz');
    footer.write('00000000000000AB', 16, 'latin1');
    expect(parseFooter(blobWith(footer), 1051).tocOffset).toBe(0xab);
  });

  const estargz = (): Buffer => footerBytes(100, 'estargz');
  const legacy = (): Buffer => footerBytes(100, 'legacy');
  const edit = (footer: Buffer, at: number, byte: number): Buffer => {
    footer[at] = byte;
    return footer;
  };
  it.each([
    ['no footer at all (plain gzip)', () => fixture('plain-gzip.blob'), 'E_NOT_ESTARGZ'],
    ['an empty blob', () => Buffer.alloc(0), 'E_NOT_ESTARGZ'],
    ['a blob shorter than any footer', () => Buffer.alloc(30), 'E_NOT_ESTARGZ'],
    [
      'a truncated blob (last byte cut)',
      () => fixture('estargz-basic.blob').subarray(0, 1743),
      'E_NOT_ESTARGZ',
    ],
    ['wrong gzip magic', () => blobWith(edit(estargz(), 0, 0x1e)), 'E_NOT_ESTARGZ'],
    ['wrong compression method', () => blobWith(edit(estargz(), 2, 0x07)), 'E_NOT_ESTARGZ'],
    ['no FEXTRA flag', () => blobWith(edit(estargz(), 3, 0x00)), 'E_NOT_ESTARGZ'],
    ['wrong XLEN (eStargz)', () => blobWith(edit(estargz(), 10, 25)), 'E_NOT_ESTARGZ'],
    ['wrong XLEN (legacy)', () => blobWith(edit(legacy(), 10, 23)), 'E_NOT_ESTARGZ'],
    ['wrong subfield id', () => blobWith(edit(estargz(), 13, 0x48)), 'E_NOT_ESTARGZ'],
    ['wrong subfield LEN', () => blobWith(edit(estargz(), 14, 21)), 'E_NOT_ESTARGZ'],
    ['wrong STARGZ magic', () => blobWith(edit(estargz(), 32, 0x73)), 'E_NOT_ESTARGZ'],
    ['a non-empty trailer', () => blobWith(edit(estargz(), 50, 1)), 'E_NOT_ESTARGZ'],
    ['a non-empty deflate body', () => blobWith(edit(estargz(), 38, 0x03)), 'E_NOT_ESTARGZ'],
    ['a non-hex offset', () => blobWith(edit(estargz(), 20, 0x67)), 'E_TOC_INVALID'],
    ['a non-hex offset (legacy)', () => blobWith(edit(legacy(), 12, 0x20)), 'E_TOC_INVALID'],
    ['an offset past the end', () => blobWith(footerBytes(5000, 'estargz')), 'E_TOC_INVALID'],
    ['an offset inside the footer', () => blobWith(footerBytes(1010, 'estargz')), 'E_TOC_INVALID'],
    ['an offset beyond 2^53', () => blobWith(footerBytes(0, 'estargz').fill(0x66, 16, 32)), 'E_TOC_INVALID'],
  ])('%s → %s', (_label, make, code) => {
    const blob = make();
    expect(codeOf(() => parseFooter(blob.subarray(Math.max(0, blob.length - 51)), blob.length))).toBe(code);
  });

  it('prefers the 51-byte layout and falls back to the 47-byte one', () => {
    const legacyBlob = blobWith(footerBytes(7, 'legacy'));
    expect(parseFooter(legacyBlob.subarray(legacyBlob.length - 51), legacyBlob.length).kind).toBe('legacy');
    const estargzBlob = blobWith(footerBytes(7, 'estargz'));
    expect(parseFooter(estargzBlob.subarray(estargzBlob.length - 51), estargzBlob.length).kind).toBe(
      'estargz',
    );
  });
});
