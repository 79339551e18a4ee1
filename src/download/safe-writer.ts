/**
 * The only code in starget that writes files. Every path is relative to the output directory, every parent
 * component is checked to be a real directory (never a symlink, whether the image made it or it was there
 * before the run), files are written under a temporary name and renamed into place only on commit.
 */

import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  type FileHandle,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  realpath,
  rename,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { depth, ioError, lstatOrNull, readAll, TEMP_PREFIX, tempName } from './_fs.js';
import { makeSpecialFile, type SpecialFileKind } from './_special-files.js';
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
}

/** Metadata applied to what the writer creates. */
export interface EntryMetadata {
  /** permission bits incl. setuid/setgid/sticky */
  mode: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
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

export { TEMP_PREFIX };

const TEMP_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
const PARTIAL_FLAGS = fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;

interface FileIdentity {
  dev: number;
  ino: number;
}

export class SafeWriter {
  readonly root: string;
  readonly #preserveOwner: boolean;
  readonly #isRoot: boolean;
  readonly #logger: Logger;
  readonly #onWarning: (warning: DownloadWarning) => void;
  /** absolute directories already checked (or created) during this run */
  readonly #verifiedDirs = new Set<string>();
  /** directories whose metadata `finish` restores */
  readonly #dirMeta = new Map<string, EntryMetadata>();
  /** regular files committed during this run: the only allowed hardlink targets */
  readonly #committed = new Map<string, FileIdentity>();
  readonly #openFiles = new Set<FileWriter>();
  #ownerWarned = false;

  private constructor(root: string, options: SafeWriterOptions) {
    this.root = root;
    this.#preserveOwner = options.preserveOwner ?? false;
    this.#isRoot = options.isRoot ?? process.getuid?.() === 0;
    this.#logger = options.logger ?? silentLogger;
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /** Creates the output directory when missing and returns a writer rooted at its real path. */
  static async create(outDir: string, options: SafeWriterOptions = {}): Promise<SafeWriter> {
    try {
      await mkdir(outDir, { recursive: true });
      const root = await realpath(outDir);
      const stats = await lstat(root);
      if (!stats.isDirectory()) throw new Error('not a directory');
      return new SafeWriter(root, options);
    } catch (error) {
      throw ioError(`cannot use ${outDir} as the output directory`, error, outDir);
    }
  }

  /** Creates a directory (replacing a non-directory at that name); its metadata is applied by `finish`. */
  async mkdir(path: string, meta: EntryMetadata): Promise<void> {
    const { abs, parent } = await this.#prepare(path);
    await this.#guard(path, async () => {
      const existing = await lstatOrNull(abs);
      if (existing && !existing.isDirectory()) {
        await this.#assertCanonical(parent, path);
        await unlink(abs);
      }
      if (!existing?.isDirectory()) {
        await this.#assertCanonical(parent, path);
        await mkdir(abs, 0o700);
      }
      this.#verifiedDirs.add(abs);
      this.#dirMeta.set(abs, meta);
    });
  }

  /** Opens a temporary file next to `path`; nothing appears under `path` until the writer commits. */
  async writeFile(path: string, meta: EntryMetadata): Promise<FileWriter> {
    const { abs, parent } = await this.#prepare(path);
    const temp = join(parent, tempName());
    const handle = await this.#guard(path, async () => {
      const opened = await open(temp, TEMP_FLAGS, 0o600);
      try {
        await this.#assertCanonical(parent, path);
      } catch (error) {
        await opened.close().catch(() => {});
        await unlink(temp).catch(() => {});
        throw error;
      }
      return opened;
    });
    const writer = this.#fileWriter(path, abs, parent, temp, handle, meta, false);
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
    const { abs, parent } = await this.#prepare(path);
    const partial = await this.#prepare(partialPath);
    const handle = await this.#guard(partialPath, async () => {
      const opened = await open(partial.abs, PARTIAL_FLAGS, 0o600);
      try {
        await this.#assertCanonical(partial.parent, partialPath);
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
    const writer = this.#fileWriter(path, abs, parent, partial.abs, handle, meta, true);
    this.#openFiles.add(writer);
    return writer;
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
    try {
      const { abs, parent } = await this.#prepare(path);
      handle = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      await this.#assertCanonical(parent, path);
      const stats = await handle.stat();
      if (!stats.isFile() || stats.size !== size) return false;
      const hash = createHash(algorithm);
      for await (const piece of readAll(handle)) hash.update(piece);
      if (`${algorithm}:${hash.digest('hex')}` !== digest) return false;
      this.#committed.set(abs, { dev: stats.dev, ino: stats.ino });
      return true;
    } catch {
      return false;
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  /** The absolute path of `path` after checking that every parent is a real directory (creating them). */
  async resolve(path: string): Promise<string> {
    return (await this.#prepare(path)).abs;
  }

  /** Creates a symlink whose target is stored as given (it is data: nothing is ever written through it). */
  async symlink(path: string, target: string, meta: EntryMetadata = { mode: 0o777 }): Promise<void> {
    if (target.includes('\0')) throw unsafe(path, 'its link target contains a NUL byte');
    const { abs, parent } = await this.#prepare(path);
    const temp = join(parent, tempName());
    await this.#guard(path, async () => {
      await this.#assertCanonical(parent, path);
      await symlink(target, temp);
      try {
        await this.#applyLinkMetadata(temp, path, meta);
        await this.#placeAt(temp, abs, parent, path);
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw error;
      }
    });
  }

  /** Links `path` to `existingPath`, a regular file this writer committed during this run. */
  async hardlink(path: string, existingPath: string): Promise<void> {
    const targetAbs = join(this.root, ...safeRelativeParts(existingPath));
    const identity = this.#committed.get(targetAbs);
    if (!identity)
      throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} was not written by this run`);
    const { abs, parent } = await this.#prepare(path);
    const temp = join(parent, tempName());
    await this.#guard(path, async () => {
      const stats = await lstatOrNull(targetAbs);
      if (!stats?.isFile() || stats.dev !== identity.dev || stats.ino !== identity.ino) {
        throw unsafe(path, `its hardlink target ${JSON.stringify(existingPath)} changed during the run`);
      }
      await this.#assertCanonical(dirname(targetAbs), path);
      await this.#assertCanonical(parent, path);
      await link(targetAbs, temp);
      try {
        await this.#placeAt(temp, abs, parent, path);
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw error;
      }
    });
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
    const { abs, parent } = await this.#prepare(path);
    if (!this.#isRoot) {
      this.#onWarning({
        code: 'device-skipped',
        path,
        message: `skipped ${kind} ${path}: creating devices and fifos needs root`,
      });
      return false;
    }
    const temp = join(parent, tempName());
    await this.#guard(path, async () => {
      await this.#assertCanonical(parent, path);
      await makeSpecialFile(temp, kind, this.#permissionBits(meta.mode, path), device);
      try {
        const stats = await lstat(temp);
        if (stats.isSymbolicLink()) throw unsafe(path, 'its temporary name turned into a symlink');
        await this.#applyLinkMetadata(temp, path, meta);
        await this.#placeAt(temp, abs, parent, path);
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw error;
      }
    });
    return true;
  }

  /** Aborts every file still open (after a failure). */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#openFiles].map((file) => file.abort()));
  }

  /**
   * Restores the modes, owners and mtimes of the directories made with `mkdir`, deepest first (creating
   * children changes a directory's mtime, and a read-only mode would block its children).
   */
  async finish(): Promise<void> {
    const dirs = [...this.#dirMeta].sort(([a], [b]) => depth(b) - depth(a));
    for (const [abs, meta] of dirs) {
      const rel = abs.slice(this.root.length + 1);
      let handle: FileHandle;
      try {
        handle = await open(abs, DIR_FLAGS);
      } catch (error) {
        // replaced by something else later in the run, or gone: nothing of ours to restore
        this.#logger.debug('directory metadata not restored', { path: rel, error: String(error) });
        continue;
      }
      try {
        await this.#applyOwner(handle, rel, meta);
        await handle.chmod(this.#permissionBits(meta.mode, rel));
        if (meta.mtime) await handle.utimes(meta.mtime, meta.mtime);
      } catch (error) {
        throw ioError(`cannot set the metadata of directory ${rel}`, error, rel);
      } finally {
        await handle.close();
      }
    }
    this.#dirMeta.clear();
  }

  // --- internals ---------------------------------------------------------------------------------------

  /** Validates `path`, makes sure each parent is a real directory (creating missing ones). */
  async #prepare(path: string): Promise<{ abs: string; parent: string }> {
    const parts = safeRelativeParts(path);
    let dir = this.root;
    for (const name of parts.slice(0, -1)) {
      dir = join(dir, name);
      if (this.#verifiedDirs.has(dir)) continue;
      await this.#guard(path, async () => {
        let stats = await lstatOrNull(dir);
        if (!stats) {
          try {
            await this.#assertCanonical(dirname(dir), path);
            await mkdir(dir, 0o755);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          }
          stats = await lstat(dir);
        }
        if (stats.isSymbolicLink()) {
          throw unsafe(path, `${JSON.stringify(dir.slice(this.root.length + 1))} is a symlink`);
        }
        if (!stats.isDirectory()) {
          throw new StargzError(
            'E_IO',
            `cannot write ${path}: ${dir.slice(this.root.length + 1)} exists and is not a directory`,
            { details: { path } },
          );
        }
      });
      this.#verifiedDirs.add(dir);
    }
    return { abs: join(dir, parts.at(-1)!), parent: dir };
  }

  /** Fails unless `dir` resolves to itself: no component on the way is (or became) a symlink. */
  async #assertCanonical(dir: string, path: string): Promise<void> {
    const real = await realpath(dir);
    if (real !== dir) {
      this.#verifiedDirs.delete(dir);
      throw unsafe(path, 'a directory on its way is a symlink');
    }
  }

  /** Renames `temp` over `abs`; an empty directory in the way is removed, a non-empty one refused. */
  async #placeAt(temp: string, abs: string, parent: string, path: string): Promise<void> {
    const existing = await lstatOrNull(abs);
    if (existing?.isDirectory()) {
      try {
        await rmdir(abs);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          throw new StargzError(
            'E_IO',
            `cannot replace the non-empty directory ${path} with a file: remove it or use another output directory`,
            { details: { path } },
          );
        }
        throw error;
      }
      this.#forgetDirsUnder(abs);
    }
    await this.#assertCanonical(parent, path);
    await rename(temp, abs);
    this.#committed.delete(abs);
  }

  #forgetDirsUnder(abs: string): void {
    for (const dir of this.#verifiedDirs) {
      if (dir === abs || dir.startsWith(abs + '/')) this.#verifiedDirs.delete(dir);
    }
    for (const dir of this.#dirMeta.keys()) {
      if (dir === abs || dir.startsWith(abs + '/')) this.#dirMeta.delete(dir);
    }
  }

  #fileWriter(
    path: string,
    abs: string,
    parent: string,
    temp: string,
    handle: FileHandle,
    meta: EntryMetadata,
    keepOnAbort: boolean,
  ): FileWriter {
    let position = 0;
    /** closed: the handle is closed but the file is still under its temporary or partial name */
    let state: 'open' | 'closed' | 'placed' | 'discarded' = 'open';
    const writer: FileWriter = {
      path,
      write: async (data, at) => {
        if (state !== 'open') throw new StargzError('E_INTERNAL', `write to ${path} after it was closed`);
        const start = at ?? position;
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await this.#guard(path, () =>
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
          await this.#guard(path, async () => {
            await this.#applyOwner(handle, path, meta);
            await handle.chmod(this.#permissionBits(meta.mode, path));
            if (meta.mtime) await handle.utimes(meta.mtime, meta.mtime);
            const stats = await handle.stat();
            await handle.close();
            state = 'closed';
            await this.#placeAt(temp, abs, parent, path);
            state = 'placed';
            this.#committed.set(abs, { dev: stats.dev, ino: stats.ino });
          });
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
        if (state !== 'open') return;
        state = 'closed';
        await handle.close().catch(() => {});
      },
      discard: async () => {
        this.#openFiles.delete(writer);
        if (state === 'discarded' || state === 'placed') return;
        if (state === 'open') await handle.close().catch(() => {});
        state = 'discarded';
        await unlink(temp).catch(() => {});
      },
    };
    return writer;
  }

  async #applyLinkMetadata(abs: string, path: string, meta: EntryMetadata): Promise<void> {
    if (this.#preserveOwner && meta.uid !== undefined && meta.gid !== undefined) {
      await lchown(abs, meta.uid, meta.gid).catch((error: unknown) => this.#ownerNotKept(path, error));
    }
    if (meta.mtime) await lutimes(abs, meta.mtime, meta.mtime);
  }

  async #applyOwner(handle: FileHandle, path: string, meta: EntryMetadata): Promise<void> {
    if (!this.#preserveOwner || meta.uid === undefined || meta.gid === undefined) return;
    await handle.chown(meta.uid, meta.gid).catch((error: unknown) => this.#ownerNotKept(path, error));
  }

  #ownerNotKept(path: string, error: unknown): void {
    if (this.#ownerWarned) return;
    this.#ownerWarned = true;
    this.#onWarning({
      code: 'owner-not-kept',
      path,
      message: `cannot keep file owners (${(error as NodeJS.ErrnoException).code ?? String(error)}): files keep your user`,
    });
  }

  /** Permission bits to apply: setuid/setgid only with root rights. */
  #permissionBits(mode: number, path: string): number {
    const bits = mode & 0o7777;
    if (this.#isRoot || (bits & 0o6000) === 0) return bits;
    this.#logger.debug('setuid/setgid bits dropped (not root)', { path });
    return bits & ~0o6000;
  }

  /** Runs a file system step, turning anything but a StargzError into E_IO naming the path. */
  async #guard<T>(path: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (StargzError.is(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw unsafe(path, 'a symlink is in the way');
      throw ioError(`cannot write ${path}`, error, path);
    }
  }
}
