import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTocJson, parseTocMember, type TocContext } from '../../src/estargz/toc.js';
import type { Toc } from '../../src/estargz/types.js';
import { writeEstargz } from '../helpers/estargz-writer.js';
import { tarOf } from '../helpers/tar.js';
import { edits, fuzzParams, mutate, okOrStargzError } from './_fuzz.js';

const KEYS = [
  'name',
  'type',
  'size',
  'modtime',
  'linkName',
  'mode',
  'uid',
  'gid',
  'userName',
  'groupName',
  'offset',
  'innerOffset',
  'devMajor',
  'devMinor',
  'xattrs',
  'digest',
  'chunkOffset',
  'chunkSize',
  'chunkDigest',
];
const TYPES = ['dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk', 'whatever', ''];
const digest = fc.stringMatching(/^sha256:[0-9a-f]{64}$/);
const names = fc.constantFrom(
  'a',
  'a/b',
  './a',
  '/a',
  'a/../..',
  '',
  '.',
  'big',
  'big/./x',
  'a\0b',
  'ü/文件',
);
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.constantFrom(0, 2 ** 53, -0, 1.5, Number.MAX_SAFE_INTEGER, 1e300),
  fc.string({ maxLength: 12 }),
  names,
  fc.constantFrom(...TYPES),
  digest,
  fc.constant(null),
  fc.boolean(),
  fc.dictionary(
    fc.string({ maxLength: 4 }),
    fc.oneof(fc.string({ maxLength: 8 }), fc.base64String({ maxLength: 12 })),
  ),
  fc.array(fc.nat(), { maxLength: 2 }),
);
/** A raw TOC entry: mostly the known keys, each with a well-typed or a hostile value. */
const rawEntry = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), fieldValue, { maxKeys: 10 }) },
  {
    weight: 8,
    arbitrary: fc.record(
      {
        name: names,
        type: fc.constantFrom(...TYPES),
        size: fc.nat({ max: 300 }),
        offset: fc.nat({ max: 400 }),
        innerOffset: fc.nat({ max: 50 }),
        chunkOffset: fc.nat({ max: 300 }),
        chunkSize: fc.nat({ max: 300 }),
        chunkDigest: digest,
        digest,
        linkName: names,
        mode: fc.nat({ max: 0o177777 }),
      },
      { requiredKeys: ['name', 'type'] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const tocDocument = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      version: fc.constantFrom(1, 1, 1, 2, '1', null),
      entries: fc.array(rawEntry, { maxLength: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);
const context = fc
  .tuple(fc.nat({ max: 500 }), fc.nat({ max: 100 }))
  .map(([tocOffset, rest]): TocContext => ({ tocOffset, blobSize: tocOffset + 51 + rest }));

/** What a parsed TOC promises the rest of starget. */
function checkInvariants(toc: Toc, ctx: TocContext): void {
  for (const entry of toc.entries) {
    expect(entry.name).not.toBe('');
    expect(entry.name.startsWith('/')).toBe(false);
    expect(entry.name.split('/')).not.toContain('..');
    let covered = 0;
    for (const chunk of entry.chunks) {
      expect(chunk.chunkOffset).toBe(covered);
      expect(chunk.chunkSize).toBeGreaterThan(0);
      expect(chunk.offset).toBeLessThan(chunk.compressedEnd);
      expect(chunk.compressedEnd).toBeLessThanOrEqual(ctx.tocOffset);
      covered += chunk.chunkSize;
    }
    if (entry.type === 'reg') expect(covered).toBe(entry.size);
  }
}

describe('fuzz: TOC JSON parser', () => {
  it('generated documents: a valid TOC or a StargzError', () => {
    fc.assert(
      fc.property(tocDocument, context, (document, ctx) => {
        const toc = okOrStargzError(() => parseTocJson(JSON.stringify(document), ctx));
        if (toc) checkInvariants(toc, ctx);
      }),
      fuzzParams(4000),
    );
  });

  it('random text and bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 })), context, (input, ctx) => {
        okOrStargzError(() => parseTocJson(input, ctx));
      }),
      fuzzParams(3000),
    );
  });

  it('mutated real TOCs', () => {
    const layer = writeEstargz(
      [
        { type: 'dir', name: 'd' },
        { type: 'reg', name: 'd/f', content: Buffer.alloc(3000, 7) },
        { type: 'reg', name: 'big', content: Buffer.alloc(9000, 1) },
        { type: 'symlink', name: 'l', linkName: 'd/f' },
        { type: 'hardlink', name: 'h', linkName: 'd/f' },
      ],
      { chunkSize: 4000, shareMembersBelow: 100 },
    );
    const json = Buffer.from(layer.tocJson);
    const ctx = { tocOffset: layer.tocOffset, blobSize: layer.blob.length };
    fc.assert(
      fc.property(edits(6), (changes) => {
        const toc = okOrStargzError(() => parseTocJson(mutate(json, changes), ctx));
        if (toc) checkInvariants(toc, ctx);
      }),
      fuzzParams(4000),
    );
  });
});

describe('fuzz: TOC member parser', () => {
  it('gzip tars around generated documents, and mutated members', () => {
    fc.assert(
      fc.property(
        tocDocument,
        context,
        fc.constantFrom('stargz.index.json', 'other.json', './stargz.index.json'),
        fc.option(edits(3), { nil: undefined }),
        (document, ctx, name, changes) => {
          let member: Buffer = gzipSync(tarOf(name, Buffer.from(JSON.stringify(document))));
          if (changes) member = mutate(member, changes);
          const parsed = okOrStargzError(() => parseTocMember(member, ctx));
          if (parsed) {
            checkInvariants(parsed.toc, ctx);
            expect(parsed.tocDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
          }
        },
      ),
      fuzzParams(3000),
    );
  });

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), context, (member, ctx) => {
        okOrStargzError(() => parseTocMember(member, ctx));
      }),
      fuzzParams(3000),
    );
  });
});
