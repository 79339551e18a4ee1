import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FOOTER_SIZE_ESTARGZ, parseFooter } from '../../src/estargz/footer.js';
import { footerBytes } from '../helpers/estargz-writer.js';
import { edits, fuzzParams, mutate, okOrStargzError } from './_fuzz.js';

describe('fuzz: footer parser', () => {
  it('random bytes: a footer that points before itself, or a StargzError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat({ max: 2 ** 40 }), (tail, blobSize) => {
        const footer = okOrStargzError(() => parseFooter(tail, blobSize));
        if (footer) {
          expect(footer.tocOffset).toBeLessThan(blobSize - footer.size);
          expect([47, 51]).toContain(footer.size);
        }
      }),
      fuzzParams(5000),
    );
  });

  it('mutated real footers (both layouts)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 36 }),
        fc.constantFrom<'estargz' | 'legacy'>('estargz', 'legacy'),
        edits(3),
        fc.nat({ max: 2 ** 37 }),
        (tocOffset, kind, changes, extra) => {
          const bytes = mutate(footerBytes(tocOffset, kind), changes);
          const blobSize = tocOffset + FOOTER_SIZE_ESTARGZ + extra;
          const footer = okOrStargzError(() => parseFooter(bytes, blobSize));
          if (footer) expect(footer.tocOffset).toBeLessThan(blobSize - footer.size);
        },
      ),
      fuzzParams(5000),
    );
  });
});
