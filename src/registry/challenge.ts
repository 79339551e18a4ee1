/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one header may carry several challenges, each a scheme
 * followed by comma-separated `key=value` parameters whose values are tokens or quoted strings (with `\`
 * escapes, and commas allowed inside the quotes). Schemes and keys are case-insensitive: both are lowercased.
 */

export interface AuthChallenge {
  /** lowercased: `bearer`, `basic` */
  scheme: string;
  /** lowercased keys: `realm`, `service`, `scope`, `error` */
  params: Record<string, string>;
  /** a token68 value when the challenge carries one instead of parameters */
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68_CHAR = /[0-9A-Za-z._~+/-]/;

class Scanner {
  position = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.position >= this.text.length;
  }
  peek(): string {
    return this.text[this.position] ?? '';
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position++;
  }
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.position++;
  }
  readWhile(pattern: RegExp): string {
    const start = this.position;
    while (!this.done && pattern.test(this.peek())) this.position++;
    return this.text.slice(start, this.position);
  }
  readQuoted(): string {
    // caller saw the opening quote
    this.position++;
    let value = '';
    while (!this.done) {
      const char = this.peek();
      this.position++;
      if (char === '"') return value;
      if (char === '\\' && !this.done) {
        value += this.peek();
        this.position++;
      } else {
        value += char;
      }
    }
    return value; // unterminated: be lenient and keep what we have
  }
}

/** Reads `key = value` at the scanner position; restores the position and returns undefined if it is not one. */
function readParam(scanner: Scanner): [string, string] | undefined {
  const start = scanner.position;
  const key = scanner.readWhile(TOKEN_CHAR);
  scanner.skipSpaces();
  if (key === '' || scanner.peek() !== '=') {
    scanner.position = start;
    return undefined;
  }
  scanner.position++;
  scanner.skipSpaces();
  // `abc==` followed by a comma or the end is a token68, not a parameter
  if (scanner.peek() === '=' || scanner.peek() === ',' || scanner.done) {
    scanner.position = start;
    return undefined;
  }
  const value = scanner.peek() === '"' ? scanner.readQuoted() : scanner.readWhile(/[^,\s]/);
  return [key.toLowerCase(), value];
}

/** Parses every challenge in a `WWW-Authenticate` value (or several header values). Never throws. */
export function parseChallenges(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  if (typeof header !== 'string') return header.flatMap((value) => parseChallenges(value));
  const scanner = new Scanner(header);
  const challenges: AuthChallenge[] = [];
  while (true) {
    scanner.skipSeparators();
    if (scanner.done) break;
    const scheme = scanner.readWhile(TOKEN_CHAR);
    if (scheme === '') {
      scanner.position++; // skip a stray character
      continue;
    }
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    scanner.skipSpaces();
    const afterScheme = scanner.position;
    if (readParam(scanner) === undefined) {
      const token68 = scanner.readWhile(TOKEN68_CHAR);
      if (token68 !== '') {
        challenge.token68 = token68 + scanner.readWhile(/=/);
        continue;
      }
    }
    scanner.position = afterScheme;
    // parameters until the next token that is not followed by `=` (the next challenge's scheme)
    while (true) {
      scanner.skipSeparators();
      if (scanner.done) break;
      const param = readParam(scanner);
      if (param === undefined) break;
      const [key, value] = param;
      if (!(key in challenge.params)) challenge.params[key] = value;
    }
  }
  return challenges;
}
