import { describe, expect, it } from 'vitest';
import { bashReplacement, escapeForShell, splitShellWords } from '../../../src/cli/completion/shell-words.js';

describe('splitShellWords', () => {
  it.each([
    ['starget ls img ', ['starget', 'ls', 'img', ''], '', null],
    ['starget ls img da', ['starget', 'ls', 'img', 'da'], 'da', null],
    ['starget ls img data/file\\ w', ['starget', 'ls', 'img', 'data/file w'], 'data/file\\ w', null],
    ['starget ls img "data/fi', ['starget', 'ls', 'img', 'data/fi'], '"data/fi', '"'],
    ["starget ls 'a b' 'c", ['starget', 'ls', 'a b', 'c'], "'c", "'"],
    ['starget  ls  "a\\"b"', ['starget', 'ls', 'a"b'], '"a\\"b"', null],
    ['', [''], '', null],
  ])('%j', (line, words, raw, quote) => {
    const split = splitShellWords(line);
    expect(split.words).toEqual(words);
    expect(split.currentRaw).toBe(raw);
    expect(split.openQuote).toBe(quote);
  });
});

describe('bash replacement', () => {
  it('escapes specials', () => {
    expect(escapeForShell('data/file with spaces.txt')).toBe('data/file\\ with\\ spaces.txt');
    expect(escapeForShell("it's(1)")).toBe("it\\'s\\(1\\)");
    expect(escapeForShell('sha256:ab')).toBe('sha256:ab');
  });

  it('keeps only the part after bash word breaks', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(bashReplacement(d, { raw: 'sha256:a', openQuote: null, openQuoteAt: -1, bashPiece: 'a' })).toBe(
      'a'.repeat(64),
    );
    expect(bashReplacement(d, { raw: 'sha256:', openQuote: null, openQuoteAt: -1, bashPiece: ':' })).toBe(
      `:${'a'.repeat(64)}`,
    );
    expect(
      bashReplacement('data/x y', { raw: 'data/x', openQuote: null, openQuoteAt: -1, bashPiece: 'data/x' }),
    ).toBe('data/x\\ y');
  });

  it('continues an open quote', () => {
    const split = splitShellWords('"data/fi');
    expect(
      bashReplacement('data/file "q".txt', {
        raw: split.currentRaw,
        openQuote: split.openQuote,
        openQuoteAt: split.openQuoteAt,
        bashPiece: '"data/fi',
      }),
    ).toBe('"data/file \\"q\\".txt');
    const mid = splitShellWords("data/'fi");
    expect(
      bashReplacement('data/file x', {
        raw: mid.currentRaw,
        openQuote: mid.openQuote,
        openQuoteAt: mid.openQuoteAt,
        bashPiece: "data/'fi",
      }),
    ).toBe("data/'file x");
  });
});
