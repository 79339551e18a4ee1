/**
 * Scrubbing secrets out of anything starget may show: URLs, headers, free text and log records.
 * Authorization values, tokens, passwords, cookies and the query strings of signed URLs never reach output.
 */
import type { Logger } from './log.js';

/** What a removed secret is replaced by. */
export const REDACTED = '<redacted>';

/** Secrets shorter than this are not searched for in text: they would match everywhere. */
export const MIN_SECRET_LENGTH = 3;

const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-registry-auth',
  'x-auth-token',
  'x-api-key',
  'x-amz-security-token',
  'x-goog-signature',
]);

const URL_HEADERS = new Set(['location', 'content-location', 'referer']);

/** The URL without user info, query string or fragment (a `?<redacted>` marks a removed query). */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    const text = String(url);
    const cut = text.search(/[?#]/);
    const base = cut < 0 ? text : text.slice(0, cut);
    return base.replace(/\/\/[^/@\s]*@/, '//') + (text.includes('?') ? `?${REDACTED}` : '');
  }
  const hadQuery = parsed.search !== '';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return parsed.href + (hadQuery ? `?${REDACTED}` : '');
}

type HeaderInput =
  | Headers
  | Iterable<[string, string]>
  | Record<string, string | string[] | number | undefined | null>;

/**
 * A copy of the headers fit to log: credentials and cookies replaced (keeping the auth scheme, e.g.
 * `Bearer <redacted>`), `x-amz-*` signing headers removed, and URLs in `Location` stripped of queries.
 */
export function redactHeaders(headers: HeaderInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of headerEntries(headers)) {
    const lower = name.toLowerCase();
    if (SECRET_HEADERS.has(lower) || /^x-amz-(security-token|credential|signature)/.test(lower)) {
      out[lower] = redactCredentialValue(raw);
    } else if (URL_HEADERS.has(lower)) {
      out[lower] = redactUrl(raw);
    } else {
      out[lower] = raw;
    }
  }
  return out;
}

function redactCredentialValue(value: string): string {
  const scheme = /^(Basic|Bearer|Digest|Negotiate|Token)\s/i.exec(value);
  return scheme ? `${scheme[1]} ${REDACTED}` : REDACTED;
}

function headerEntries(headers: HeaderInput): [string, string][] {
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return [...headers.entries()];
  if (Symbol.iterator in headers) return [...(headers as Iterable<[string, string]>)];
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    out.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
  }
  return out;
}

// Patterns for secrets whose value starget does not know in advance.
const TEXT_PATTERNS: [RegExp, (match: string, ...groups: string[]) => string][] = [
  // Authorization-style values: `Bearer abc`, `Basic dXNlcjpw`
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}/gi, (_m, scheme) => `${scheme} ${REDACTED}`],
  // JSON Web Tokens
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, () => REDACTED],
  // URL user info and query strings
  [/\b(https?:\/\/)[^\s/@"'<>]+@/gi, (_m, scheme) => scheme],
  [/\b(https?:\/\/[^\s?#"'<>]*)\?[^\s"'<>]*/gi, (_m, base) => `${base}?${REDACTED}`],
  // key=value / "key": "value" for credential-like keys
  [
    /(["']?\b(?:access_token|refresh_token|id_token|identitytoken|identity_token|registrytoken|token|password|passwd|secret|auth)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,&;}]+)/gi,
    (_m, key, value) =>
      `${key}${value.startsWith('"') ? `"${REDACTED}"` : value.startsWith("'") ? `'${REDACTED}'` : REDACTED}`,
  ],
];

/**
 * The text with every known secret (and its base64 and URL-encoded forms) replaced, and with bearer/basic
 * values, JWTs, URL user info and queries, and `token=`/`password:` style values scrubbed.
 */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text;
  for (const secret of secretForms(secrets)) out = out.split(secret).join(REDACTED);
  for (const [pattern, replace] of TEXT_PATTERNS) {
    out = out.replace(pattern, replace as (substring: string, ...args: unknown[]) => string);
  }
  return out;
}

function secretForms(secrets: Iterable<string>): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(Buffer.from(secret, 'utf8').toString('base64').replace(/=+$/, ''));
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

const SECRET_FIELD =
  /^(authorization|proxy-authorization|cookie|set-cookie|password|passwd|secret|token|access_token|refresh_token|identitytoken|identity_token|registrytoken|auth|credential|credentials)$/i;

/** A deep copy of log fields with secret-named fields replaced and every string scrubbed by `redactText`. */
export function redactFields(
  fields: Record<string, unknown>,
  secrets: Iterable<string> = [],
): Record<string, unknown> {
  const list = [...secrets];
  return redactValue(fields, list, new WeakSet(), 0) as Record<string, unknown>;
}

function redactValue(value: unknown, secrets: string[], seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value) || depth > 8) return '[…]';
  seen.add(value);
  if (value instanceof URL) return redactUrl(value);
  if (typeof Headers !== 'undefined' && value instanceof Headers) return redactHeaders(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactText(value.message, secrets),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, seen, depth + 1));
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_FIELD.test(key) && inner !== undefined && inner !== null && inner !== '') {
      out[key] = typeof inner === 'string' ? redactCredentialValue(inner) : REDACTED;
    } else if (key.toLowerCase() === 'headers' && typeof inner === 'object' && inner !== null) {
      out[key] = redactHeaders(inner as HeaderInput);
    } else {
      out[key] = redactValue(inner, secrets, seen, depth + 1);
    }
  }
  return out;
}

/**
 * A Logger that scrubs every message and field before passing it on: the known secrets (add more as they
 * are learned, e.g. fetched tokens) and anything that looks like a credential.
 */
export class RedactingLogger implements Logger {
  readonly #inner: Logger;
  readonly #secrets = new Set<string>();

  constructor(inner: Logger, secrets: Iterable<string> = []) {
    this.#inner = inner;
    for (const secret of secrets) this.addSecret(secret);
  }

  /** Remembers a value that must never be logged from now on. */
  addSecret(secret: string | undefined): void {
    if (secret) this.#secrets.add(secret);
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.#emit('debug', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.#emit('info', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.#emit('warn', message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.#emit('error', message, fields);
  }

  #emit(level: keyof Logger, message: string, fields?: Record<string, unknown>): void {
    const clean = redactText(message, this.#secrets);
    if (fields === undefined) this.#inner[level](clean);
    else this.#inner[level](clean, redactFields(fields, this.#secrets));
  }
}
