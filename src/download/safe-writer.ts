/**
 * The only code in starget that writes files. Every path is relative to the output directory, every parent
 * component is checked to be a real directory (never a symlink, whether the image made it or it was there
 * before the run), files are written under a temporary name and renamed into place only on commit.
 * Directories are verified once per run and then named through their open handle (`_dir-table.ts`), so
 * a directory swapped for a symlink later is never followed.
 */

import { createHash } from 'node:crypto';
import { constants as fsConstants, renameSync } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, realpath, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../log.js';
import { DirTable } from './_dir-table.js';
import { restoreDirectories } from './_directory-restore.js';
import { createFileWriter, type FileWriter, type OpenedFile } from './_file-writer.js';
import { ioError, lstatOrNull, readAll, TEMP_PREFIX, tempName } from './_fs.js';
import { type EntryMetadata, MetadataWriter } from './_metadata.js';
import { type Place, Places } from './_places.js';
import { makeSpecialFile, type SpecialFileKind } from './_special-files.js';
import { createWholeFile, createWholeFileSync } from './_whole-file.js';
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

export type { EntryMetadata, FileWriter };
export { TEMP_PREFIX };

const TEMP_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const PARTIAL_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;

export class SafeWriter {
  readonly root: string;
  readonly #dirs: DirTable;
  readonly #metadata: MetadataWriter;
  readonly #isRoot: boolean;
  readonly #logger: Logger;
  readonly #onWarning: (warning: DownloadWarning) => void;
  /** directories whose metadata `finish` restores */
  readonly #dirMeta = new Map<string, EntryMetadata>();
  /** names in the output tree, and the regular files committed during this run */
  readonly #places: Places;
  readonly #openFiles = new Set<FileWriter>();

  private constructor(dirs: DirTable, options: SafeWriterOptions) {
    this.root = dirs.root;
    this.#dirs = dirs;
    this.#places = new Places(dirs, (abs) => {
      for (const dir of this.#dirMeta.keys()) {
        if (dir === abs || dir.startsWith(abs + '/')) this.#dirMeta.delete(dir);
      }
    });
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
    const place = await this.#places.place(path);
    try {
      await this.#places.guard(path, place.dir, async () => {
        const at = this.#places.at(place);
        await this.#dirs.check(place.dir, path);
        try {
          await mkdir(at, 0o700);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          if (!(await lstat(at)).isDirectory()) {
            await unlink(at);
            this.#places.forgetDirsUnder(place.abs);
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
    const place = await this.#places.place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    let handle: FileHandle;
    try {
      handle = await this.#places.guard(path, place.dir, async () => {
        const opened = await open(this.#places.at(temp), TEMP_FLAGS, 0o600);
        try {
          await this.#dirs.check(place.dir, path);
        } catch (error) {
          await opened.close().catch(() => {});
          await unlink(this.#places.at(temp)).catch(() => {});
          throw error;
        }
        return opened;
      });
    } catch (error) {
      this.#dirs.release(place.dir);
      throw error;
    }
    const writer = this.#fileWriter({
      path,
      place,
      temp,
      handle,
      meta,
      keepOnAbort: false,
      held: [place.dir],
    });
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
    const place = await this.#places.place(path);
    let partial: Place | undefined;
    let handle: FileHandle;
    try {
      partial = await this.#places.place(partialPath);
      const { dir } = partial;
      handle = await this.#places.guard(partialPath, dir, async () => {
        const opened = await open(this.#places.at(partial!), PARTIAL_FLAGS, 0o600);
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
    const writer = this.#fileWriter({
      path,
      place,
      temp: partial,
      handle,
      meta,
      keepOnAbort: true,
      held: [place.dir, partial.dir],
    });
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
    const place = await this.#places.place(path);
    let tempDir = place.dir;
    try {
      if (options.tempIn !== undefined) {
        const parts = safeRelativeParts(options.tempIn);
        tempDir = await this.#places.guard(path, undefined, () => this.#dirs.acquire(parts, path));
      }
      const temp: Place = { dir: tempDir, name: tempName(), abs: '' };
      const identity = await this.#places.guard(path, tempDir, () =>
        options.sync && this.#dirs.pinned
          ? createWholeFileSync(this.#places.at(temp), data, meta, path, this.#metadata)
          : createWholeFile(this.#places.at(temp), data, meta, path, this.#metadata, () =>
              this.#dirs.check(tempDir, path),
            ),
      );
      await this.#places.guard(path, place.dir, async () => {
        try {
          if (options.sync && this.#dirs.pinned) {
            try {
              renameSync(this.#places.at(temp), this.#places.at(place));
              this.#places.committed.delete(place.abs);
              return;
            } catch (error) {
              // a directory in the way: the general path handles it
              if ((error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
            }
          }
          await this.#places.placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#places.at(temp)).catch(() => {});
          throw error;
        }
      });
      this.#places.committed.set(place.abs, identity);
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
      place = await this.#places.place(path);
      handle = await open(this.#places.at(place), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      await this.#dirs.check(place.dir, path);
      const stats = await handle.stat();
      if (!stats.isFile() || stats.size !== size) return false;
      const hash = createHash(algorithm);
      for await (const piece of readAll(handle)) hash.update(piece);
      if (`${algorithm}:${hash.digest('hex')}` !== digest) return false;
      this.#places.committed.set(place.abs, { dev: stats.dev, ino: stats.ino });
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
    const place = await this.#places.place(path);
    this.#dirs.release(place.dir);
    return place.abs;
  }

  /** Creates a symlink whose target is stored as given (it is data: nothing is ever written through it). */
  async symlink(path: string, target: string, meta: EntryMetadata = { mode: 0o777 }): Promise<void> {
    if (target.includes('\0')) throw unsafe(path, 'its link target contains a NUL byte');
    const place = await this.#places.place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    try {
      await this.#places.guard(path, place.dir, async () => {
        await this.#dirs.check(place.dir, path);
        await symlink(target, this.#places.at(temp));
        try {
          await this.#metadata.applyToLink(this.#places.at(temp), path, meta);
          await this.#places.placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#places.at(temp)).catch(() => {});
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
    const identity = this.#places.committed.get(join(this.root, ...targetParts));
    if (!identity)
      throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} was not written by this run`);
    const place = await this.#places.place(path);
    const temp: Place = { dir: place.dir, name: tempName(), abs: '' };
    let source: Place | undefined;
    try {
      source = await this.#places.place(existingPath, false);
      const from = this.#places.at(source);
      await this.#places.guard(path, place.dir, async () => {
        const stats = await lstatOrNull(from);
        if (!stats?.isFile() || stats.dev !== identity.dev || stats.ino !== identity.ino) {
          throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} changed during the run`);
        }
        await this.#dirs.check(source!.dir, path);
        await this.#dirs.check(place.dir, path);
        await link(from, this.#places.at(temp));
        try {
          await this.#places.placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#places.at(temp)).catch(() => {});
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
    const place = await this.#places.place(path);
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
      await this.#places.guard(path, place.dir, async () => {
        await this.#dirs.check(place.dir, path);
        // made by a child process: /proc/self would be the child's own
        const forChild = this.#places.at(temp).replace(/^\/proc\/self\//, `/proc/${process.pid}/`);
        await makeSpecialFile(forChild, kind, this.#metadata.permissionBits(meta.mode, path), device);
        try {
          const stats = await lstat(this.#places.at(temp));
          if (stats.isSymbolicLink()) throw unsafe(path, 'its temporary name turned into a symlink');
          await this.#metadata.applyToLink(this.#places.at(temp), path, meta);
          await this.#places.placeAt(temp, place, path);
        } catch (error) {
          await unlink(this.#places.at(temp)).catch(() => {});
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
    try {
      await restoreDirectories(this.#dirMeta, {
        dirs: this.#dirs,
        metadata: this.#metadata,
        logger: this.#logger,
      });
      this.#dirMeta.clear();
    } finally {
      await this.#dirs.close();
    }
  }

  // --- internals ---------------------------------------------------------------------------------------

  #fileWriter(file: OpenedFile): FileWriter {
    return createFileWriter(this.#places, this.#metadata, file, (writer) => this.#openFiles.delete(writer));
  }
}
