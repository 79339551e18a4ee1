/**
 * What a user's path pattern selects.
 *
 * - `bin/echo`: that path (a file; a directory means the directory and everything below it).
 * - `bin/` or `bin`: the directory, recursively (a trailing `/` asks for a directory only).
 * - `.`, `/`, `./` or the empty string: everything.
 * - Globs (`*`, `?`, `[...]`, `{a,b}`, `**`, extglobs) via picomatch, matched against whole paths:
 *   `etc/*.conf`, `usr/lib/**` + `/*.so`. A directory a glob matches comes with everything below it, as
 *   `cp -r` would copy it.
 * - Dotfiles follow the shell (bash with globstar, without dotglob): `*`, `?` and `**` do not match a name
 *   starting with `.` unless the pattern segment itself starts with `.` (`etc/.*`, `**` + `/.bashrc`). Whatever
 *   a matched directory contains is included, dotfiles too.
 * - A leading `/` is optional and `./` is tolerated; `..` and `.` segments are resolved, never above the root.
 * - A glob also matches a path equal to its literal text, so a name such as `a[1].txt` can be asked for as is.
 */

import picomatch from 'picomatch';
import { cleanPath } from './paths.js';

export interface CompiledPattern {
  /** the pattern as given */
  source: string;
  /** the cleaned pattern (no leading or trailing `/`); `''` selects everything */
  path: string;
  /** true when the pattern has no glob syntax: it names one path */
  isLiteral: boolean;
  /** true for `.`, `/`, `''`: the whole tree */
  matchAll: boolean;
  /** true when the pattern ended in `/`: only directories match */
  directoryOnly: boolean;
  /** whether a path (clean, no leading `/`) matches the pattern itself, before directories are expanded */
  matches(path: string): boolean;
}

/** Compiles a user pattern (pure; no file system or index access). */
export function compilePattern(source: string): CompiledPattern {
  const path = cleanPath(source);
  const directoryOnly = source.endsWith('/') && path !== '';
  if (path === '') {
    return { source, path, isLiteral: true, matchAll: true, directoryOnly: false, matches: () => true };
  }
  const isLiteral = !picomatch.scan(path).isGlob;
  if (isLiteral) {
    return { source, path, isLiteral, matchAll: false, directoryOnly, matches: (p) => p === path };
  }
  const glob = picomatch(path, { dot: false, windows: false });
  return {
    source,
    path,
    isLiteral,
    matchAll: false,
    directoryOnly,
    matches: (p) => p === path || glob(p),
  };
}
