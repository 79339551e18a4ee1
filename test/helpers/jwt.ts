import { type KeyObject, randomUUID, sign, verify } from 'node:crypto';
import type { SigningAlgorithm } from './certs.js';

/** One grant in a registry token: `{type: 'repository', name: 'ns/repo', actions: ['pull']}`. */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** The claims a distribution registry reads from a bearer token. */
export interface RegistryTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: TokenAccess[];
}

/** JOSE header fields the registry uses to find the signing key (one of `x5c` or `kid`). */
export interface JwtKeyHeader {
  /** base64 (not url-safe) DER certificates, signing certificate first */
  x5c?: string[];
  /** libtrust key id of the signing key */
  kid?: string;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * Signs `claims` as a compact JWS. ES256 signatures are raw r||s (IEEE P1363) as JWS requires;
 * RS256 is RSASSA-PKCS1-v1_5 with SHA-256.
 */
export function signJwt(
  claims: object,
  key: KeyObject,
  algorithm: SigningAlgorithm,
  keyHeader: JwtKeyHeader = {},
): string {
  const header = { typ: 'JWT', alg: algorithm, ...keyHeader };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature =
    algorithm === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${base64url(signature)}`;
}

/** Builds registry claims valid from `now` (unix seconds) for `lifetimeSeconds` (may be negative: already expired). */
export function registryClaims(fields: {
  issuer: string;
  subject: string;
  audience: string;
  access: TokenAccess[];
  now: number;
  lifetimeSeconds: number;
}): RegistryTokenClaims {
  return {
    iss: fields.issuer,
    sub: fields.subject,
    aud: fields.audience,
    exp: fields.now + fields.lifetimeSeconds,
    nbf: Math.min(fields.now, fields.now + fields.lifetimeSeconds) - 1,
    iat: fields.now,
    jti: randomUUID(),
    access: fields.access,
  };
}

/** Splits a compact JWS into its decoded header and payload, without checking the signature. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [header, payload] = token.split('.');
  if (header === undefined || payload === undefined) throw new Error('not a compact JWS');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
  };
}

/** Checks a compact JWS signature against `publicKey` (for the harness's own tests). */
export function verifyJwt(token: string, publicKey: KeyObject, algorithm: SigningAlgorithm): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2]!, 'base64url');
  return algorithm === 'ES256'
    ? verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
    : verify('sha256', input, publicKey, signature);
}
