/** Path rules for everything the safe writer creates: relative, no `..`, no NUL, never empty. */

import { StargzError } from '../errors.js';

/**
 * Splits a path relative to the output directory into its components after dropping empty and `.` parts.
 * Refuses absolute paths, `..` anywhere, NUL bytes and paths that name the output directory itself.
 */
export function safeRelativeParts(path: string): string[] {
  if (path.includes('\0')) throw unsafePath(path, 'it contains a NUL byte');
  if (path.startsWith('/')) throw unsafePath(path, 'it is absolute');
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw unsafePath(path, 'it contains ".."');
  if (parts.length === 0) throw unsafePath(path, 'it names the output directory itself');
  return parts;
}

/** E_UNSAFE_PATH naming the path and why it was refused. */
export function unsafePath(path: string, why: string): StargzError {
  return new StargzError('E_UNSAFE_PATH', `refusing to write ${JSON.stringify(path)}: ${why}`, {
    details: { path },
  });
}
