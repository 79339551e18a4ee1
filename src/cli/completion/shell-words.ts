/** Splitting a shell command line into words, and quoting candidates back for bash. Pure. */

export interface SplitLine {
  /** every word, unquoted; the last one is the word under the cursor ('' after a space) */
  words: string[];
  /** the word under the cursor exactly as typed */
  currentRaw: string;
  /** the quote the word under the cursor is open in, if any */
  openQuote: '"' | "'" | null;
  /** index in currentRaw of the open quote, -1 when none */
  openQuoteAt: number;
}

/**
 * Splits a command line the way a POSIX shell would for completion: whitespace separates words,
 * single quotes are literal, double quotes allow backslash escapes of `"\$\``, a backslash outside quotes
 * escapes the next character. No expansion happens.
 */
export function splitShellWords(line: string): SplitLine {
  const words: string[] = [];
  let word = '';
  let raw = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  let quoteAt = -1;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      raw += ch;
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (quote === '"') {
      raw += ch;
      if (ch === '"') quote = null;
      else if (ch === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
        raw += line[i + 1]!;
        word += line[++i]!;
      } else word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      raw = '';
      inWord = false;
      continue;
    }
    inWord = true;
    raw += ch;
    if (ch === "'" || ch === '"') {
      quote = ch;
      quoteAt = raw.length - 1;
    } else if (ch === '\\') {
      if (i + 1 < line.length) {
        raw += line[i + 1]!;
        word += line[++i]!;
      }
    } else word += ch;
  }
  words.push(word);
  return { words, currentRaw: raw, openQuote: quote, openQuoteAt: quote ? quoteAt : -1 };
}

/** Backslash-escapes the characters a shell would treat specially (as bash's `printf %q` does for plain text). */
export function escapeForShell(value: string): string {
  return value.replace(/[^A-Za-z0-9_/.,:@%+=^~-]/g, (ch) => `\\${ch}`);
}

/**
 * What bash should put in COMPREPLY for a candidate: the candidate as it must appear on the command line
 * (escaped, or inside the open quote), minus the part before bash's current word piece: bash splits words
 * at COMP_WORDBREAKS (`:` and `=` among them) and replaces only the last piece.
 */
export function bashReplacement(
  candidate: string,
  current: { raw: string; openQuote: '"' | "'" | null; openQuoteAt: number; bashPiece: string },
): string | undefined {
  let typed: string;
  if (current.openQuote) {
    const start = current.openQuoteAt;
    const before = splitShellWords(current.raw.slice(0, start)).words.at(-1) ?? '';
    if (!candidate.startsWith(before)) return undefined;
    const rest = candidate.slice(before.length);
    typed =
      current.raw.slice(0, start + 1) + (current.openQuote === '"' ? rest.replace(/["\\$`]/g, '\\$&') : rest);
  } else {
    typed = escapeForShell(candidate);
  }
  const cut = current.raw.length - current.bashPiece.length;
  if (cut < 0 || !current.raw.endsWith(current.bashPiece)) return typed;
  if (!typed.startsWith(current.raw.slice(0, cut))) return undefined;
  return typed.slice(cut);
}
