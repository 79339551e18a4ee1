import { join } from 'node:path';
import type { Credential } from '../registry/types.js';
import { type CredentialFile, credentialFromAuthEntry, readCredentialFile } from './credential-file.js';
import type { CredentialHelperRunner } from './helper.js';
import { findCredentialKey } from './registry-host.js';
import type { CredentialLookup, CredentialSource } from './types.js';

export interface CredentialFileSourceOptions {
  /** the credential file to read (read once, on first lookup) */
  path: string;
  /** runs `docker-credential-*` programs named in `credHelpers` / `credsStore` */
  helpers: CredentialHelperRunner;
}

/**
 * Credentials from docker's `config.json`: `credHelpers[host]`, then `credsStore`, then `auths[host]`.
 * A missing file has nothing; a helper that says "credentials not found" passes the question on.
 */
export function dockerConfigCredentials(options: CredentialFileSourceOptions): CredentialSource {
  return credentialFileSource('docker config', options, { stripPath: true });
}

/**
 * Credentials from podman/skopeo `auth.json` files, tried in order: `credHelpers[host]`, then `auths[host]`.
 * Keys scoped to a namespace (`quay.io/team`) are not used for a whole registry.
 */
export function authJsonCredentials(options: {
  paths: string[];
  helpers: CredentialHelperRunner;
}): CredentialSource {
  const sources = options.paths.map((path) =>
    credentialFileSource('auth.json', { path, helpers: options.helpers }, { stripPath: false }),
  );
  return sourceFromLookup('auth.json', async (registry) => {
    for (const source of sources) {
      const found = await source.lookup(registry);
      if (found) return found;
    }
    return undefined;
  });
}

/** `$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`. */
export function dockerConfigPath(options: {
  env: Record<string, string | undefined>;
  homedir: string;
}): string {
  const dir = options.env.DOCKER_CONFIG || join(options.homedir, '.docker');
  return join(dir, 'config.json');
}

/**
 * Where podman and skopeo keep logins: `$REGISTRY_AUTH_FILE` alone when set, else
 * `$XDG_RUNTIME_DIR/containers/auth.json` then `$XDG_CONFIG_HOME/containers/auth.json`
 * (default `~/.config/containers/auth.json`).
 */
export function authJsonPaths(options: {
  env: Record<string, string | undefined>;
  homedir: string;
}): string[] {
  const { env, homedir } = options;
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const paths: string[] = [];
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  paths.push(join(env.XDG_CONFIG_HOME || join(homedir, '.config'), 'containers', 'auth.json'));
  return paths;
}

function credentialFileSource(
  name: string,
  options: CredentialFileSourceOptions,
  keys: { stripPath: boolean },
): CredentialSource {
  let file: Promise<CredentialFile | undefined> | undefined;
  return sourceFromLookup(name, async (registry) => {
    file ??= readCredentialFile(options.path);
    const content = await file;
    if (!content) return undefined;
    const where = `${name} ${options.path}`;

    const helperKey = findCredentialKey(content.credHelpers, registry, keys);
    if (helperKey !== undefined) {
      const helper = content.credHelpers[helperKey]!;
      const credential = await options.helpers.get(helper, registry);
      if (credential) return { credential, source: `${where} credHelpers → docker-credential-${helper}` };
    } else if (content.credsStore) {
      const credential = await options.helpers.get(content.credsStore, registry);
      if (credential) {
        return { credential, source: `${where} credsStore → docker-credential-${content.credsStore}` };
      }
    }

    const authKey = findCredentialKey(content.auths, registry, keys);
    if (authKey === undefined) return undefined;
    const credential = credentialFromAuthEntry(content.auths[authKey]!, `${where} auths["${authKey}"]`);
    return credential ? { credential, source: `${where} auths["${authKey}"]` } : undefined;
  });
}

/** Builds a CredentialSource from a lookup function. */
export function sourceFromLookup(
  name: string,
  lookup: (registry: string) => Promise<CredentialLookup | undefined>,
): CredentialSource {
  return {
    name,
    lookup,
    async get(registry: string): Promise<Credential | undefined> {
      return (await lookup(registry))?.credential;
    },
  };
}
