import { readFile } from 'node:fs/promises';
import { StargzError } from '../errors.js';
import type { Credential } from '../registry/types.js';

/** The parts of docker's `config.json` (and podman's `auth.json`, same shape) that hold credentials. */
export interface CredentialFile {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** Reads a credential file; undefined when it does not exist. Malformed JSON is E_CONFIG naming the file. */
export async function readCredentialFile(path: string): Promise<CredentialFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new StargzError('E_CONFIG', `cannot read credential file ${path} (${code ?? 'error'})`, {
      cause: error,
      details: { path },
    });
  }
  return parseCredentialFile(text, path);
}

/** Parses the JSON of a credential file, keeping only well-formed entries' fields. */
export function parseCredentialFile(text: string, path: string): CredentialFile {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    // The parser's message quotes the text near the error, which may be a password: leave it out.
    throw new StargzError('E_CONFIG', `credential file ${path} is not valid JSON: fix or remove it`, {
      details: { path },
    });
  }
  if (!isObject(raw)) {
    throw new StargzError('E_CONFIG', `credential file ${path} does not hold a JSON object`, {
      details: { path },
    });
  }
  const file: CredentialFile = { auths: {}, credHelpers: {} };
  if (isObject(raw.auths)) {
    for (const [key, value] of Object.entries(raw.auths)) {
      if (isObject(value)) file.auths[key] = pickStrings(value);
    }
  }
  if (isObject(raw.credHelpers)) {
    for (const [key, value] of Object.entries(raw.credHelpers)) {
      if (typeof value === 'string' && value !== '') file.credHelpers[key] = value;
    }
  }
  if (typeof raw.credsStore === 'string' && raw.credsStore !== '') file.credsStore = raw.credsStore;
  return file;
}

/**
 * The credential an `auths` entry holds: `identitytoken` first, then `registrytoken`, then the
 * `username`/`password` pair or the base64 `auth` (`user:password`). undefined for an empty entry
 * (docker writes `{}` when a credential store holds the secret).
 */
export function credentialFromAuthEntry(entry: AuthEntry, where: string): Credential | undefined {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth) {
    const decoded = decodeBase64(entry.auth);
    const colon = decoded?.indexOf(':') ?? -1;
    if (decoded === undefined || colon < 0) {
      throw new StargzError('E_CONFIG', `${where}: "auth" is not base64 of "user:password"`, {
        details: { where },
      });
    }
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (entry.identitytoken) {
    return username
      ? { kind: 'identityToken', token: entry.identitytoken, username }
      : { kind: 'identityToken', token: entry.identitytoken };
  }
  if (entry.registrytoken) return { kind: 'registryToken', token: entry.registrytoken };
  if (username !== '' || password !== '') return { kind: 'basic', username, password };
  return undefined;
}

function decodeBase64(text: string): string | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) return undefined;
  return Buffer.from(trimmed, 'base64').toString('utf8');
}

function pickStrings(value: Record<string, unknown>): AuthEntry {
  const entry: AuthEntry = {};
  for (const key of ['auth', 'username', 'password', 'identitytoken', 'registrytoken'] as const) {
    const field = value[key];
    if (typeof field === 'string' && field !== '') entry[key] = field;
  }
  return entry;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
