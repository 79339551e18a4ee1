/**
 * How credential files name registries. Docker keys Docker Hub as `https://index.docker.io/v1/` and other
 * registries by `host[:port]`, sometimes with a scheme and a path (`https://ghcr.io`, `http://localhost:5000/v2/`).
 */

/** The key docker (and its credential helpers) use for Docker Hub. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** True for the names Docker Hub goes by: `docker.io`, `index.docker.io`, `registry-1.docker.io`. */
export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_HOSTS.has(host.toLowerCase());
}

/**
 * The canonical name starget compares registries by: lower case `host[:port]`, with every Docker Hub alias
 * folded to `docker.io`.
 */
export function canonicalHost(host: string): string {
  const lower = host.trim().toLowerCase();
  return isDockerHub(lower) ? 'docker.io' : lower;
}

/** The server URL handed to a credential helper on stdin for this registry (docker's convention). */
export function helperServerUrl(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_KEY : registry.trim().toLowerCase();
}

/**
 * The canonical host a credential-file key names, or undefined when the key is scoped to a repository
 * namespace (`quay.io/team`), which a host-level lookup must not match.
 * With `stripPath` (docker's rule) any path after the host is ignored even without a scheme.
 */
export function hostOfCredentialKey(key: string, options: { stripPath: boolean }): string | undefined {
  let rest = key.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const path = rest.slice(slash + 1);
    // `https://host/v1/`, `host/v2/` and a trailing slash are registry-wide; `host/ns` is a namespace.
    const registryWide = scheme !== null || options.stripPath || /^(v[12]\/?)?$/.test(path);
    if (!registryWide) return undefined;
    rest = rest.slice(0, slash);
  }
  if (rest === '') return undefined;
  return canonicalHost(rest);
}

/**
 * Finds the entry of `table` for `registry`: an exact key first (the Docker Hub key for Hub), then any key
 * naming the same host.
 */
export function findCredentialKey(
  table: Record<string, unknown>,
  registry: string,
  options: { stripPath: boolean },
): string | undefined {
  const exact = isDockerHub(registry) ? DOCKER_HUB_KEY : registry;
  if (Object.hasOwn(table, exact)) return exact;
  const wanted = canonicalHost(registry);
  for (const key of Object.keys(table)) {
    if (hostOfCredentialKey(key, options) === wanted) return key;
  }
  return undefined;
}
