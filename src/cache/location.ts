/** Where the cache lives by default. Pure: the caller passes the environment and home directory. */

import { isAbsolute, join } from 'node:path';

/**
 * `$XDG_CACHE_HOME/starget` when XDG_CACHE_HOME is set to an absolute path (the XDG spec ignores relative
 * ones), else `<home>/.cache/starget`.
 */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'starget');
  return join(homeDir, '.cache', 'starget');
}
