/**
 * Names in the output tree for the safe writer: a path is validated and its verified parent directory
 * held (`place`), a finished temporary name is renamed over its final one (`placeAt`), and file system
 * failures become StargzErrors naming the path (`guard`). Also remembers the regular files this run put
 * in place (the only allowed hardlink targets).
 */

import { rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import type { Dir, DirTable } from './_dir-table.js';
import { ioError } from './_fs.js';
import type { FileIdentity } from './_whole-file.js';
import { safeRelativeParts, unsafePath as unsafe } from './paths.js';

/** A name in a verified directory (held by the caller until released). */
export interface Place {
  dir: Dir;
  name: string;
  /** absolute path, for bookkeeping */
  abs: string;
}

export class Places {
  readonly root: string;
  readonly dirs: DirTable;
  /** regular files committed during this run: the only allowed hardlink targets */
  readonly committed = new Map<string, FileIdentity>();
  /** told about every directory forgotten because something replaced it */
  readonly #onForget: (abs: string) => void;

  constructor(dirs: DirTable, onForget: (abs: string) => void) {
    this.root = dirs.root;
    this.dirs = dirs;
    this.#onForget = onForget;
  }

  /** Validates `path` and holds its verified parent directory (created when missing unless `create` is false). */
  async place(path: string, create = true): Promise<Place> {
    const parts = safeRelativeParts(path);
    const dir = await this.guard(path, undefined, () =>
      this.dirs.acquire(parts.slice(0, -1), path, { create }),
    );
    const name = parts.at(-1)!;
    return { dir, name, abs: join(dir.abs, name) };
  }

  /** The name to hand to a system call for `place`. */
  at(place: Place): string {
    return `${place.dir.base}/${place.name}`;
  }

  /** Renames `temp` over `place`; an empty directory in the way is removed, a non-empty one refused. */
  async placeAt(temp: Place, place: Place, path: string): Promise<void> {
    const from = this.at(temp);
    const to = this.at(place);
    await this.dirs.check(place.dir, path);
    try {
      await rename(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
      try {
        await rmdir(to);
      } catch (removing) {
        const code = (removing as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new StargzError(
            'E_IO',
            `cannot replace the non-empty directory ${path} with a file: remove it or use another output directory`,
            { details: { path } },
          );
        }
        throw removing;
      }
      this.forgetDirsUnder(place.abs);
      await this.dirs.check(place.dir, path);
      await rename(from, to);
    }
    this.committed.delete(place.abs);
  }

  /** Forgets the directory `abs` and everything under it (it was replaced). */
  forgetDirsUnder(abs: string): void {
    this.dirs.forget(abs);
    this.#onForget(abs);
  }

  /**
   * Runs a file system step in `dir`, turning anything but a StargzError into E_IO naming the path. A
   * step that finds `dir` gone (removed during the run, maybe for a symlink) has its path checked again,
   * so that a symlink there is reported as E_UNSAFE_PATH.
   */
  async guard<T>(path: string, dir: Dir | undefined, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (StargzError.is(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw unsafe(path, 'a symlink is in the way');
      if (code === 'ENOENT' && dir) await this.#explainMissing(dir, path);
      throw ioError(`cannot write ${path}`, error, path);
    }
  }

  /** When pinned `dir` was removed: forgets it and throws what its path holds now, if that is unsafe. */
  async #explainMissing(dir: Dir, path: string): Promise<void> {
    if (dir.abs === this.root) return;
    const stats = await dir.handle?.stat().catch(() => undefined);
    if (!stats || stats.nlink > 0) return;
    const parts = dir.abs.slice(this.root.length + 1).split('/');
    // its ancestors may be gone too: walk the whole path again from the output directory
    this.dirs.forget(join(this.root, parts[0]!));
    const again = await this.dirs.acquire(parts, path, { create: false }).catch((error: unknown) => {
      if (StargzError.is(error)) throw error;
      return undefined;
    });
    if (again) this.dirs.release(again);
  }
}
