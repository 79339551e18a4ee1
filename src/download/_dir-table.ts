/**
 * The directories of the output tree that the safe writer has verified, and how to name things in them.
 *
 * Pinned mode (Linux): each verified directory is held open (O_DIRECTORY | O_NOFOLLOW), opened relative to
 * its already-open parent through `/proc/self/fd/<fd>/<name>`, and everything the writer creates in it is
 * named through that same handle. The kernel resolves `/proc/self/fd/<fd>` to the open directory itself,
 * so no path component between the output directory and the file is looked up again: a directory swapped
 * for a symlink after it was verified can never be followed, with no time window (what openat(2) gives C
 * programs; Node has no openat). Handles are reference counted and at most MAX_OPEN are kept (least
 * recently used closed first), so a handle is never closed, and its number never reused, under an
 * operation still using it.
 *
 * Fallback mode (no usable /proc): directories are named by absolute path, verified once with an lstat
 * per component, and every operation is preceded by a realpath check of its directory (a window remains
 * between that check and the operation).
 */

import { constants as fsConstants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import { lstatOrNull } from './_fs.js';
import { unsafePath as unsafe } from './paths.js';

export const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
/** Open directory handles kept at most (beyond those in use). */
const MAX_OPEN = 256;
/** Handles are closed after this long without use (also when the owner never calls `close`). */
const IDLE_CLOSE_MS = 1000;

/** A verified directory. `base` is what names inside it are joined to; valid while the caller holds it. */
export interface Dir {
  /** absolute path, for bookkeeping and messages */
  readonly abs: string;
  /** `/proc/self/fd/<fd>` when pinned, else `abs` */
  readonly base: string;
  /** the open directory (pinned mode only) */
  readonly handle: FileHandle | undefined;
}

interface Entry {
  abs: string;
  base: string;
  handle: FileHandle | undefined;
  users: number;
  /** dropped from the table: closed once its last user releases it */
  stale: boolean;
}

export class DirTable {
  readonly root: string;
  readonly pinned: boolean;
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<Entry>>();
  readonly #rootEntry: Entry;
  readonly #rootIdentity: { dev: number; ino: number } | undefined;
  /** `close` was called: the root handle is opened again on the next use */
  #reopening: Promise<void> | undefined;
  #closed = false;
  #lastUse = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    root: string,
    rootHandle: FileHandle | undefined,
    rootIdentity: { dev: number; ino: number } | undefined,
  ) {
    this.root = root;
    this.pinned = rootHandle !== undefined;
    this.#rootIdentity = rootIdentity;
    this.#rootEntry = {
      abs: root,
      base: rootHandle ? `/proc/self/fd/${rootHandle.fd}` : root,
      handle: rootHandle,
      users: 1, // never closed before `close`
      stale: false,
    };
    this.#keepIdleTimer();
  }

  #keepIdleTimer(): void {
    this.#lastUse = Date.now();
    if (this.pinned) this.#idleTimer ??= setTimeout(() => this.#closeWhenIdle(), IDLE_CLOSE_MS).unref();
  }

  /** A table rooted at `root` (a real directory path); pinned when `/proc/self/fd` works here. */
  static async open(root: string, pin: boolean): Promise<DirTable> {
    if (!pin) return new DirTable(root, undefined, undefined);
    let handle: FileHandle | undefined;
    try {
      handle = await open(root, DIR_FLAGS);
      const [viaProc, direct] = await Promise.all([stat(`/proc/self/fd/${handle.fd}/.`), handle.stat()]);
      if (viaProc.ino !== direct.ino || viaProc.dev !== direct.dev) throw new Error('not the same directory');
      return new DirTable(root, handle, { dev: direct.dev, ino: direct.ino });
    } catch {
      await handle?.close().catch(() => {});
      return new DirTable(root, undefined, undefined);
    }
  }

  /** After `close`: opens the root again, refusing a root that is no longer the same directory. */
  async #reopenRoot(): Promise<void> {
    const replaced = () =>
      new StargzError('E_UNSAFE_PATH', `the output directory ${this.root} was replaced during the run`, {
        details: { path: this.root },
      });
    const handle = await open(this.root, DIR_FLAGS).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOTDIR' || error.code === 'ELOOP' ? replaced() : error;
    });
    const stats = await handle.stat();
    if (stats.dev !== this.#rootIdentity?.dev || stats.ino !== this.#rootIdentity?.ino) {
      await handle.close();
      throw replaced();
    }
    this.#rootEntry.handle = handle;
    this.#rootEntry.base = `/proc/self/fd/${handle.fd}`;
    this.#closed = false;
  }

  /**
   * The verified directory `parts` (components below the root), creating missing ones (mode 0755).
   * Fails with E_UNSAFE_PATH when a component is a symlink, E_IO when it is not a directory. The caller
   * must `release` it.
   */
  async acquire(parts: readonly string[], path: string, options: { create?: boolean } = {}): Promise<Dir> {
    const create = options.create ?? true;
    this.#keepIdleTimer();
    if (this.#closed) {
      this.#reopening ??= this.#reopenRoot().finally(() => {
        this.#reopening = undefined;
      });
      await this.#reopening;
    }
    let dir = this.#rootEntry;
    dir.users++;
    for (const name of parts) {
      const abs = join(dir.abs, name);
      let next = this.#entries.get(abs);
      if (next) {
        // most recently used last
        this.#entries.delete(abs);
        this.#entries.set(abs, next);
      } else {
        let pending = this.#pending.get(abs);
        if (!pending) {
          pending = this.#verify(dir, name, abs, path, create).finally(() => this.#pending.delete(abs));
          this.#pending.set(abs, pending);
        }
        next = await pending;
        // verified while we waited, then dropped again: verify once more
        if (next.stale) {
          this.release(dir);
          return this.acquire(parts, path, options);
        }
      }
      next.users++;
      this.release(dir);
      dir = next;
    }
    return dir;
  }

  /** Gives back a directory from `acquire`. */
  release(dir: Dir): void {
    const entry = dir as Entry;
    if (entry === this.#rootEntry) {
      if (entry.users > 1) entry.users--;
      return;
    }
    entry.users--;
    if (entry.users === 0 && entry.stale) void entry.handle?.close().catch(() => {});
    this.#evict();
  }

  /**
   * Fallback mode: fails unless `dir` still resolves to itself (no component became a symlink), and
   * forgets it then. Pinned mode: nothing to check, names in `dir` are resolved through its handle.
   */
  async check(dir: Dir, path: string): Promise<void> {
    if (this.pinned) return;
    const real = await realpath(dir.abs);
    if (real !== dir.abs) {
      this.forget(dir.abs);
      throw unsafe(path, 'a directory on its way is a symlink');
    }
  }

  /** Forgets `abs` and every directory under it (they were removed or replaced): verified again on use. */
  forget(abs: string): void {
    for (const [key, entry] of this.#entries) {
      if (key === abs || key.startsWith(`${abs}/`)) {
        this.#entries.delete(key);
        entry.stale = true;
        if (entry.users === 0) void entry.handle?.close().catch(() => {});
      }
    }
  }

  #closeWhenIdle(): void {
    this.#idleTimer = undefined;
    const inUse = this.#rootEntry.users > 1 || [...this.#entries.values()].some((entry) => entry.users > 0);
    const idleFor = Date.now() - this.#lastUse;
    if (inUse || idleFor < IDLE_CLOSE_MS || this.#pending.size > 0 || this.#reopening) {
      this.#idleTimer = setTimeout(() => this.#closeWhenIdle(), IDLE_CLOSE_MS).unref();
      return;
    }
    void this.close();
  }

  /** Closes every handle (nothing may be in use). A later `acquire` opens the root again. */
  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) entry.stale = true;
    const rootHandle = this.#rootEntry.handle;
    if (rootHandle) this.#closed = true;
    this.#rootEntry.handle = undefined;
    await Promise.all(
      [...entries.map((entry) => entry.handle), rootHandle].map((h) => h?.close().catch(() => {})),
    );
  }

  async #verify(parent: Entry, name: string, abs: string, path: string, create: boolean): Promise<Entry> {
    parent.users++;
    try {
      const entry = this.pinned
        ? await this.#pin(parent, name, abs, path, create)
        : await this.#lstatChecked(parent, abs, path, create);
      this.#entries.set(abs, entry);
      this.#evict();
      return entry;
    } finally {
      this.release(parent);
    }
  }

  async #pin(parent: Entry, name: string, abs: string, path: string, create: boolean): Promise<Entry> {
    const at = `${parent.base}/${name}`;
    let handle: FileHandle;
    try {
      handle = await open(at, DIR_FLAGS);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && create) {
        await mkdir(at, 0o755).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        return this.#pin(parent, name, abs, path, false);
      }
      if (code === 'ENOTDIR' || code === 'ELOOP') throw await this.#notADirectory(at, abs, path);
      throw error;
    }
    return { abs, base: `/proc/self/fd/${handle.fd}`, handle, users: 0, stale: false };
  }

  async #lstatChecked(parent: Entry, abs: string, path: string, create: boolean): Promise<Entry> {
    let stats = await lstatOrNull(abs);
    if (!stats && !create) stats = await lstat(abs); // ENOENT
    if (!stats) {
      try {
        await this.check(parent, path);
        await mkdir(abs, 0o755);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      stats = await lstat(abs);
    }
    if (!stats.isDirectory()) throw await this.#notADirectory(abs, abs, path);
    return { abs, base: abs, handle: undefined, users: 0, stale: false };
  }

  async #notADirectory(at: string, abs: string, path: string): Promise<StargzError> {
    const rel = abs.slice(this.root.length + 1);
    const stats = await lstatOrNull(at).catch(() => null);
    if (stats?.isSymbolicLink()) return unsafe(path, `${JSON.stringify(rel)} is a symlink`);
    return new StargzError('E_IO', `cannot write ${path}: ${rel} exists and is not a directory`, {
      details: { path },
    });
  }

  #evict(): void {
    if (!this.pinned || this.#entries.size <= MAX_OPEN) return;
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= MAX_OPEN) return;
      if (entry.users > 0) continue;
      this.#entries.delete(key);
      entry.stale = true;
      void entry.handle?.close().catch(() => {});
    }
  }
}
