import type { Credential } from '../registry/types.js';
import { sourceFromLookup } from './file-source.js';
import { canonicalHost } from './registry-host.js';
import type { CredentialSource } from './types.js';

/**
 * A fixed user name and password, as given by `--credential user:pass` or `--username` with
 * `--password-stdin`. With `registries`, it answers only for those hosts; otherwise for any registry asked.
 */
export function staticCredential(
  username: string,
  password: string,
  options: { registries?: string[]; source?: string } = {},
): CredentialSource {
  const credential: Credential = { kind: 'basic', username, password };
  const only = options.registries?.map(canonicalHost);
  const source = options.source ?? 'flag';
  return sourceFromLookup('flag', async (registry) =>
    only === undefined || only.includes(canonicalHost(registry)) ? { credential, source } : undefined,
  );
}

/** Splits `user:password` (the password may hold more colons); undefined when there is no colon. */
export function parseCredentialFlag(value: string): { username: string; password: string } | undefined {
  const colon = value.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}
