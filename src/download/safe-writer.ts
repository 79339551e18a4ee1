/**
 * The only code in starget that writes files. Every path is relative to the output directory, every parent
 * component is checked to be a real directory (never a symlink, whether the image made it or it was there
 * before the run), files are written under a temporary name and renamed into place only on commit.
 * Directories are verified once per run and then named through their open handle (`_dir-table.ts`), so
 * a directory swapped for a symlink later is never followed.
 */

import { createHash } from 'node:crypto';
import { constants as fsConstants, renameSync } from 'node:fs';
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  realpath,
  rename,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { DIR_FLAGS, type Dir, DirTable } from './_dir-table.js';
import { depth, ioError, lstatOrNull, readAll, TEMP_PREFIX, tempName } from './_fs.js';
import { type EntryMetadata, MetadataWriter } from './_metadata.js';
import { makeSpecialFile, type SpecialFileKind } from './_special-files.js';
import { createWholeFile, createWholeFileSync, type FileIdentity } from './_whole-file.js';
import { safeRelativeParts, unsafePath as unsafe } from './paths.js';
import type { DownloadWarning } from './types.js';

export interface SafeWriterOptions {
  /** set uid/gid from the entries (like tar's --same-owner) */
  preserveOwner?: boolean;
  /** running with root rights: keeps setuid/setgid and creates devices; default: the process's uid is 0 */
  isRoot?: boolean;
  logger?: Logger;
  /** called for what the writer skipped or could not keep */
  onWarning?: (warning: DownloadWarning) => void;
  /**
   * Hold verified directories open and create files through them (default true; used only where
   * `/proc/self/fd` works, i.e. Linux). False: check each directory's real path before every operation.
   */
  pinDirectories?: boolean;
}

/** A file being written under a temporary name; it appears under its final name only after `commit`. */
export interface FileWriter {
  /** the final path relative to the output directory */
  readonly path: string;
  /** Writes at `position` (default: after the previous write). */
  write(data: Uint8Array, position?: number): Promise<void>;
  /** Reads back bytes [start, end) of the file (default: all), in order (for digests of files written out
   * of order); each yielded buffer is valid only until the next one is requested. */
  readBack(start?: number, end?: number): AsyncIterable<Uint8Array>;
  /** Applies metadata and renames the file into place, atomically replacing what was there. */
  commit(): Promise<void>;
  /**
   * Closes the file; the final name is left untouched. A temporary file is removed, a resumable partial
   * file (`openPartial`) is kept for a later run. Safe to call twice.
   */
  abort(): Promise<void>;
  /** Closes and removes the temporary or partial file (its content is wrong). Safe to call twice. */
  discard(): Promise<void>;
}

export type { EntryMetadata };
export { TEMP_PREFIX };

const TEMP_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const PARTIAL_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;
/** Directories whose metadata `finish` restores at the same time (siblings: no order between them). */
const FINISH_CONCURRENCY = 16;

/** A name in a verified directory (held by the caller until released). */
interface Place {
  dir: Dir;
  name: string;
  /** absolute path, for bookkeeping */
  abs: string;
}

export class SafeWriter {
  readonly root: string;
  readonly #dirs: DirTable;
  readonly #metadata: MetadataWriter;
  readonly #isRoot: boolean;
  readonly #logger: Logger;
  readonly #onWarning: (warning: DownloadWarning) => void;
  /** directories whose metadata `finish` restores */
  readonly #dirMeta = new Map<string, EntryMetadata>();
  /** regular files committed during this run: the only allowed hardlink targets */
  readonly #committed = new Map<string, FileIdentity>();
  readonly #openFiles = new Set<FileWriter>();

  private constructor(dirs: DirTable, options: SafeWriterOptions) {
    this.root = dirs.root;
    this.#dirs = dirs;
    this.#isRoot = options.isRoot ?? process.getuid?.() === 0;
    this.#logger = options.logger ?? silentLogger;
    this.#onWarning = options.onWarning ?? (() => {});
    this.#metadata = new MetadataWriter({
      preserveOwner: options.preserveOwner ?? false,
      isRoot: this.#isRoot,
      logger: this.#logger,
      onWarning: this.#onWarning,
    });
  }

  /** Creates the output directory when missing and returns a writer rooted at its real path. */
  static async create(outDir: string, options: SafeWriterOptions = {}): Promise<SafeWriter> {
    let root: string;
    try {
      await mkdir(outDir, { recursive: true });
      root = await realpath(outDir);
      const stats = await lstat(root);
      if (!stats.isDirectory()) throw new Error('not a directory');
    } catch (error) {
      throw ioError(`cannot use ${outDir} as the output directory`, error, outDir);
    }
    return new SafeWriter(await DirTable.open(root, options.pinDirectories ?? true), options);
  }

  /** Whether directories are held open (see `SafeWriterOptions.pinDirectories`). */
  get pinsDirectories(): boolean {
    return this.#dirs.pinned;
  }

  /** Creates a directory (replacing a non-directory at that name); its metadata is applied by `finish`. */
  async mkdir(path: string, meta: EntryMetadata): Promise<void> {
    const place = await this.#place(path);
    try {
      await this.#guard(path, place.dir, async () => {
        const at = this.#at(place);
        await this.#dirs.check(place.dir, path);
        try {
          await mkdir(at, 0o700);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          if (!(await lstat(at)).isDirectory()) {
            await unlink(at);
            this.#forgetDirsUnder(place.abs);
            await this.#dirs.check(place.dir, path);
            await mkdir(at, 0o700);
          }
        }
        this.#dirMeta.set(place.abs, meta);
      });
    } finally {
      this.#dirs.release(place.dir);
    }
  }

  /** Opens a temporary file next to `path`; nothing appears under `path` until the writer commits. */
  async writeFile(path: string, meta: EntryMetadata): Promise<FileWriter> {
    const place = await this.#place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    let handle: FileHandle;
    try {
      handle = await this.#guard(path, place.dir, async () => {
        const opened = await open(this.#at(temp), TEMP_FLAGS, 0o600);
        try {
          await this.#dirs.check(place.dir, path);
        } catch (error) {
          await opened.close().catch(() => {});
          await unlink(this.#at(temp)).catch(() => {});
          throw error;
        }
        return opened;
      });
    } catch (error) {
      this.#dirs.release(place.dir);
      throw error;
    }
    const writer = this.#fileWriter(path, place, temp, handle, meta, false, [place.dir]);
    this.#openFiles.add(writer);
    return writer;
  }

  /**
   * Opens the resumable partial file `partialPath` (created when missing, cut to `size` bytes when longer)
   * whose commit renames it to `path`. Unlike `writeFile`, `abort` keeps it for a later run.
   */
  async openPartial(
    path: string,
    partialPath: string,
    meta: EntryMetadata,
    size: number,
  ): Promise<FileWriter> {
    const place = await this.#place(path);
    let partial: Place | undefined;
    let handle: FileHandle;
    try {
      partial = await this.#place(partialPath);
      const { dir } = partial;
      handle = await this.#guard(partialPath, dir, async () => {
        const opened = await open(this.#at(partial!), PARTIAL_FLAGS, 0o600);
        try {
          await this.#dirs.check(dir, partialPath);
          const stats = await opened.stat();
          if (!stats.isFile() || stats.nlink !== 1)
            throw unsafe(partialPath, 'it is not a plain file of its own');
          if (stats.size > size) await opened.truncate(size);
        } catch (error) {
          await opened.close().catch(() => {});
          throw error;
        }
        return opened;
      });
    } catch (error) {
      this.#dirs.release(place.dir);
      if (partial) this.#dirs.release(partial.dir);
      throw error;
    }
    const writer = this.#fileWriter(path, place, partial, handle, meta, true, [place.dir, partial.dir]);
    this.#openFiles.add(writer);
    return writer;
  }

  /**
   * Writes a whole file in one go (for small files whose bytes are all in memory): a temporary file in
   * `tempIn` (a directory relative to the output directory; default: next to `path`) gets the bytes and
   * the metadata through its descriptor and is renamed to `path`. Nothing is left on failure.
   * `sync`: make the system calls synchronously (no thread pool round trip per call; they block the event
   * loop for as long as they take), only where directories are pinned.
   */
  async writeWholeFile(
    path: string,
    data: Uint8Array,
    meta: EntryMetadata,
    options: { tempIn?: string; sync?: boolean } = {},
  ): Promise<void> {
    const place = await this.#place(path);
    let tempDir = place.dir;
    try {
      if (options.tempIn !== undefined) {
        const parts = safeRelativeParts(options.tempIn);
        tempDir = await this.#guard(path, undefined, () => this.#dirs.acquire(parts, path));
      }
      const temp: Place = { dir: tempDir, name: tempName(), abs: '' };
      const identity = await this.#guard(path, tempDir, () =>
        options.sync && this.#dirs.pinned
          ? createWholeFileSync(this.#at(temp), data, meta, path, this.#metadata)
          : createWholeFile(this.#at(temp), data, meta, path, this.#metadata, () =>
              this.#dirs.check(tempDir, path),
            ),
      );
      await this.#guard(path, place.dir, async () => {
        try {
          if (options.sync && this.#dirs.pinned) {
            try {
              renameSync(this.#at(temp), this.#at(place));
              this.#committed.delete(place.abs);
              return;
            } catch (error) {
              // a directory in the way: the general path handles it
              if ((error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
            }
          }
          await this.#placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#at(temp)).catch(() => {});
          throw error;
        }
      });
      this.#committed.set(place.abs, identity);
    } finally {
      if (tempDir !== place.dir) this.#dirs.release(tempDir);
      this.#dirs.release(place.dir);
    }
  }

  /**
   * True when `path` already holds a regular file of `size` bytes hashing to `digest` (not through a
   * symlink); it then counts as written by this run (a valid hardlink target). False otherwise.
   */
  async reuseFile(path: string, size: number, digest: string): Promise<boolean> {
    const colon = digest.indexOf(':');
    const algorithm = digest.slice(0, colon);
    if (algorithm !== 'sha256' && algorithm !== 'sha512') return false;
    let handle: FileHandle | undefined;
    let place: Place | undefined;
    try {
      place = await this.#place(path);
      handle = await open(this.#at(place), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      await this.#dirs.check(place.dir, path);
      const stats = await handle.stat();
      if (!stats.isFile() || stats.size !== size) return false;
      const hash = createHash(algorithm);
      for await (const piece of readAll(handle)) hash.update(piece);
      if (`${algorithm}:${hash.digest('hex')}` !== digest) return false;
      this.#committed.set(place.abs, { dev: stats.dev, ino: stats.ino });
      return true;
    } catch {
      return false;
    } finally {
      await handle?.close().catch(() => {});
      if (place) this.#dirs.release(place.dir);
    }
  }

  /** The absolute path of `path` after checking that every parent is a real directory (creating them). */
  async resolve(path: string): Promise<string> {
    const place = await this.#place(path);
    this.#dirs.release(place.dir);
    return place.abs;
  }

  /** Creates a symlink whose target is stored as given (it is data: nothing is ever written through it). */
  async symlink(path: string, target: string, meta: EntryMetadata = { mode: 0o777 }): Promise<void> {
    if (target.includes('\0')) throw unsafe(path, 'its link target contains a NUL byte');
    const place = await this.#place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    try {
      await this.#guard(path, place.dir, async () => {
        await this.#dirs.check(place.dir, path);
        await symlink(target, this.#at(temp));
        try {
          await this.#metadata.applyToLink(this.#at(temp), path, meta);
          await this.#placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#at(temp)).catch(() => {});
          throw error;
        }
      });
    } finally {
      this.#dirs.release(place.dir);
    }
  }

  /** Links `path` to `existingPath`, a regular file this writer committed during this run. */
  async hardlink(path: string, existingPath: string): Promise<void> {
    const targetParts = safeRelativeParts(existingPath);
    const identity = this.#committed.get(join(this.root, ...targetParts));
    if (!identity)
      throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} was not written by this run`);
    const place = await this.#place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    let source: Place | undefined;
    try {
      source = await this.#place(existingPath, false);
      const from = this.#at(source);
      await this.#guard(path, place.dir, async () => {
        const stats = await lstatOrNull(from);
        if (!stats?.isFile() || stats.dev !== identity.dev || stats.ino !== identity.ino) {
          throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} changed during the run`);
        }
        await this.#dirs.check(source!.dir, path);
        await this.#dirs.check(place.dir, path);
        await link(from, this.#at(temp));
        try {
          await this.#placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#at(temp)).catch(() => {});
          throw error;
        }
      });
    } finally {
      if (source) this.#dirs.release(source.dir);
      this.#dirs.release(place.dir);
    }
  }

  /**
   * Creates a character/block device or a fifo when running as root; otherwise skips it with a warning.
   * Returns whether it was created.
   */
  async special(
    path: string,
    kind: SpecialFileKind,
    meta: EntryMetadata,
    device: { major: number; minor: number } = { major: 0, minor: 0 },
  ): Promise<boolean> {
    const place = await this.#place(path);
    try {
      if (!this.#isRoot) {
        this.#onWarning({
          code: 'device-skipped',
          path,
          message: `skipped ${kind} ${path}: creating devices and fifos needs root`,
        });
        return false;
      }
      const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
      await this.#guard(path, place.dir, async () => {
        await this.#dirs.check(place.dir, path);
        // made by a child process: /proc/self would be the child's own
        const forChild = this.#at(temp).replace(/^\/proc\/self\//, `/proc/${process.pid}/`);
        await makeSpecialFile(forChild, kind, this.#metadata.permissionBits(meta.mode, path), device);
        try {
          const stats = await lstat(this.#at(temp));
          if (stats.isSymbolicLink()) throw unsafe(path, 'its temporary name turned into a symlink');
          await this.#metadata.applyToLink(this.#at(temp), path, meta);
          await this.#placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#at(temp)).catch(() => {});
          throw error;
        }
      });
      return true;
    } finally {
      this.#dirs.release(place.dir);
    }
  }

  /** Aborts every file still open (after a failure). */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#openFiles].map((file) => file.abort()));
  }

  /**
   * Restores the modes, owners and mtimes of the directories made with `mkdir`, deepest first (creating
   * children changes a directory's mtime, and a read-only mode would block its children), then closes the
   * directory handles (a later call opens them again).
   */
  async finish(): Promise<void> {
    const byDepth = new Map<number, [string, EntryMetadata][]>();
    for (const item of this.#dirMeta) {
      const level = depth(item[0]);
      byDepth.set(level, [...(byDepth.get(level) ?? []), item]);
    }
    try {
      for (const level of [...byDepth.keys()].sort((a, b) => b - a)) {
        const items = byDepth.get(level)!;
        for (let i = 0; i < items.length; i += FINISH_CONCURRENCY) {
          await Promise.all(
            items.slice(i, i + FINISH_CONCURRENCY).map(([abs, meta]) => this.#restoreDirectory(abs, meta)),
          );
        }
      }
      this.#dirMeta.clear();
    } finally {
      await this.#dirs.close();
    }
  }

  // --- internals ---------------------------------------------------------------------------------------

  async #restoreDirectory(abs: string, meta: EntryMetadata): Promise<void> {
    const rel = abs.slice(this.root.length + 1);
    let dir: Dir | undefined;
    let handle: FileHandle | undefined;
    try {
      if (this.#dirs.pinned) {
        dir = await this.#dirs.acquire(rel.split('/'), rel, { create: false });
        handle = dir.handle;
      } else {
        handle = await open(abs, DIR_FLAGS);
      }
    } catch (error) {
      // replaced by something else later in the run, or gone: nothing of ours to restore
      this.#logger.debug('directory metadata not restored', { path: rel, error: String(error) });
      if (dir) this.#dirs.release(dir);
      return;
    }
    try {
      if (!handle) throw new StargzError('E_INTERNAL', `no handle for directory ${rel}`);
      await this.#metadata.applyToHandle(handle, rel, meta);
    } catch (error) {
      throw ioError(`cannot set the metadata of directory ${rel}`, error, rel);
    } finally {
      if (dir) this.#dirs.release(dir);
      else await handle?.close();
    }
  }

  /** Validates `path` and holds its verified parent directory (created when missing unless `create` is false). */
  async #place(path: string, create = true): Promise<Place> {
    const parts = safeRelativeParts(path);
    const dir = await this.#guard(path, undefined, () =>
      this.#dirs.acquire(parts.slice(0, -1), path, { create }),
    );
    const name = parts.at(-1)!;
    return { dir, name, abs: join(dir.abs, name) };
  }

  /** The name to hand to a system call for `place`. */
  #at(place: Place): string {
    return `${place.dir.base}/${place.name}`;
  }

  /** Renames `temp` over `place`; an empty directory in the way is removed, a non-empty one refused. */
  async #placeAt(temp: Place, place: Place, path: string): Promise<void> {
    const from = this.#at(temp);
    const to = this.#at(place);
    await this.#dirs.check(place.dir, path);
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
      this.#forgetDirsUnder(place.abs);
      await this.#dirs.check(place.dir, path);
      await rename(from, to);
    }
    this.#committed.delete(place.abs);
  }

  #forgetDirsUnder(abs: string): void {
    this.#dirs.forget(abs);
    for (const dir of this.#dirMeta.keys()) {
      if (dir === abs || dir.startsWith(abs + '/')) this.#dirMeta.delete(dir);
    }
  }

  #fileWriter(
    path: string,
    place: Place,
    temp: Place,
    handle: FileHandle,
    meta: EntryMetadata,
    keepOnAbort: boolean,
    held: Dir[],
  ): FileWriter {
    let position = 0;
    /** closed: the handle is closed but the file is still under its temporary or partial name */
    let state: 'open' | 'closed' | 'placed' | 'discarded' = 'open';
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const dir of held) this.#dirs.release(dir);
    };
    const writer: FileWriter = {
      path,
      write: async (data, at) => {
        if (state !== 'open') throw new StargzError('E_INTERNAL', `write to ${path} after it was closed`);
        const start = at ?? position;
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await this.#guard(path, undefined, () =>
            handle.write(data, done, data.byteLength - done, start + done),
          );
          done += bytesWritten;
        }
        position = start + data.byteLength;
      },
      readBack: (start, end) => readAll(handle, start, end),
      commit: async () => {
        if (state !== 'open') throw new StargzError('E_INTERNAL', `commit of ${path} after it was closed`);
        try {
          await this.#guard(path, place.dir, async () => {
            await this.#metadata.applyToHandle(handle, path, meta);
            const stats = await handle.stat();
            await handle.close();
            state = 'closed';
            await this.#placeAt(temp, place, path);
            state = 'placed';
            this.#committed.set(place.abs, { dev: stats.dev, ino: stats.ino });
          });
          release();
        } catch (error) {
          await writer.abort();
          throw error;
        } finally {
          this.#openFiles.delete(writer);
        }
      },
      abort: async () => {
        if (!keepOnAbort) return writer.discard();
        this.#openFiles.delete(writer);
        if (state === 'open') {
          state = 'closed';
          await handle.close().catch(() => {});
        }
        release();
      },
      discard: async () => {
        this.#openFiles.delete(writer);
        if (state === 'discarded' || state === 'placed') return release();
        if (state === 'open') await handle.close().catch(() => {});
        state = 'discarded';
        await unlink(this.#at(temp)).catch(() => {});
        release();
      },
    };
    return writer;
  }

  /**
   * Runs a file system step in `dir`, turning anything but a StargzError into E_IO naming the path. A
   * step that finds `dir` gone (removed during the run, maybe for a symlink) has its path checked again,
   * so that a symlink there is reported as E_UNSAFE_PATH.
   */
  async #guard<T>(path: string, dir: Dir | undefined, step: () => Promise<T>): Promise<T> {
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
    this.#dirs.forget(join(this.root, parts[0]!));
    const again = await this.#dirs.acquire(parts, path, { create: false }).catch((error: unknown) => {
      if (StargzError.is(error)) throw error;
      return undefined;
    });
    if (again) this.#dirs.release(again);
  }
}
