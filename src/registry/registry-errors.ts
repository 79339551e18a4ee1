/**
 * The registry's JSON error body (`{"errors":[{"code","message","detail"}]}`, OCI distribution spec) and
 * the token server's (`{"details": …}` / `{"error": …}`), turned into StargzErrors with a message a user
 * can act on.
 */

import { StargzError, type StargzErrorCode } from '../errors.js';

export interface RegistryErrorEntry {
  code: string;
  message: string;
}

const MAX_MESSAGE = 300;

function clean(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
}

/** The error entries of a registry error body; empty when the body is not one. Never throws. */
export function parseRegistryErrors(body: string): RegistryErrorEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null) return [];
  const record = parsed as Record<string, unknown>;
  if (Array.isArray(record.errors)) {
    return record.errors.flatMap((entry): RegistryErrorEntry[] => {
      if (typeof entry !== 'object' || entry === null) return [];
      const { code, message } = entry as Record<string, unknown>;
      return [
        {
          code: typeof code === 'string' ? code.toUpperCase() : '',
          message: typeof message === 'string' ? clean(message) : '',
        },
      ];
    });
  }
  // token servers: {"details":"incorrect username or password"} or OAuth2 {"error":"invalid_grant",…}
  for (const key of ['details', 'error_description', 'message', 'error']) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return [{ code: '', message: clean(value) }];
  }
  return [];
}

/** A short human message from an error body: the registry's own words, or a trimmed plain-text body. */
export function registryMessage(body: string): string | undefined {
  const entries = parseRegistryErrors(body);
  const messages = entries.map((entry) => entry.message || entry.code).filter((text) => text !== '');
  if (messages.length > 0) return messages.join('; ');
  const text = clean(body);
  if (text === '' || text.startsWith('<')) return undefined; // HTML pages say nothing useful
  return text;
}

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN', 'NOT_FOUND']);
const AUTH_CODES = new Set(['DENIED', 'UNAUTHORIZED']);

/** What a non-success answer means, from its status and the registry's error codes. */
export function classifyRegistryError(
  status: number,
  body: string,
): { code: StargzErrorCode; entry?: string } {
  const entries = parseRegistryErrors(body);
  const codes = entries.map((entry) => entry.code);
  const first = codes.find((code) => code !== '');
  if (status === 429 || codes.includes('TOOMANYREQUESTS')) return { code: 'E_RATE_LIMITED', entry: first };
  if (codes.some((code) => AUTH_CODES.has(code)) || status === 401 || status === 403) {
    return { code: 'E_AUTH', entry: first };
  }
  if (codes.some((code) => NOT_FOUND_CODES.has(code)) || status === 404)
    return { code: 'E_NOT_FOUND', entry: first };
  if (status >= 500) return { code: 'E_NETWORK', entry: first };
  return { code: 'E_PROTOCOL', entry: first };
}

/** What the subject of a failed request is, for messages: `manifest for REF`, `blob sha256:… of REPO`. */
export interface ErrorSubject {
  /** `manifest for docker.io/library/nginx:1.27` */
  what: string;
  /** the repository as the user knows it: `docker.io/library/nginx` */
  repository: string;
  /** what to check when it is not found: `the tag` */
  notFoundHint: string;
}

/** A StargzError for a registry answer that is not a success, with the registry's message and a hint. */
export function registryError(status: number, body: string, subject: ErrorSubject): StargzError {
  const { code, entry } = classifyRegistryError(status, body);
  const said = registryMessage(body);
  const saidPart = said === undefined ? '' : `: ${said}`;
  const details = { status, registryCode: entry, repository: subject.repository };
  switch (code) {
    case 'E_NOT_FOUND':
      if (entry === 'NAME_UNKNOWN') {
        return new StargzError(
          code,
          `repository ${subject.repository} not found (HTTP ${status}): check the repository name`,
          { details },
        );
      }
      return new StargzError(
        code,
        `${subject.what} not found (HTTP ${status}): check ${subject.notFoundHint}`,
        {
          details,
        },
      );
    case 'E_AUTH':
      return new StargzError(
        code,
        `access to ${subject.repository} denied (HTTP ${status}${saidPart}): check your credentials and the repository name`,
        { details },
      );
    case 'E_RATE_LIMITED':
      return new StargzError(
        code,
        `the registry rate-limits requests for ${subject.what} (HTTP ${status}${saidPart}): wait and try again, or log in`,
        { details },
      );
    case 'E_NETWORK':
      return new StargzError(code, `the registry failed on ${subject.what} (HTTP ${status}${saidPart})`, {
        details,
      });
    default:
      return new StargzError(code, `unexpected answer for ${subject.what} (HTTP ${status}${saidPart})`, {
        details,
      });
  }
}
