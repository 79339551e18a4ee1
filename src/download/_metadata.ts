/** How the safe writer applies an entry's metadata: owner (only with --same-owner), permission bits, mtime. */

import { fchmodSync, fchownSync, futimesSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { lchown, lutimes } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { DownloadWarning } from './types.js';

/** Metadata applied to what the writer creates. */
export interface EntryMetadata {
  /** permission bits incl. setuid/setgid/sticky */
  mode: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
}

export class MetadataWriter {
  readonly #preserveOwner: boolean;
  readonly #isRoot: boolean;
  readonly #logger: Logger;
  readonly #onWarning: (warning: DownloadWarning) => void;
  #ownerWarned = false;

  constructor(options: {
    preserveOwner: boolean;
    isRoot: boolean;
    logger: Logger;
    onWarning: (warning: DownloadWarning) => void;
  }) {
    this.#preserveOwner = options.preserveOwner;
    this.#isRoot = options.isRoot;
    this.#logger = options.logger;
    this.#onWarning = options.onWarning;
  }

  /** Permission bits to apply: setuid/setgid only with root rights. */
  permissionBits(mode: number, path: string): number {
    const bits = mode & 0o7777;
    if (this.#isRoot || (bits & 0o6000) === 0) return bits;
    this.#logger.debug('setuid/setgid bits dropped (not root)', { path });
    return bits & ~0o6000;
  }

  /** Owner, permission bits and mtime through an open file or directory. */
  async applyToHandle(handle: FileHandle, path: string, meta: EntryMetadata): Promise<void> {
    if (this.#wantsOwner(meta)) {
      await handle.chown(meta.uid!, meta.gid!).catch((error: unknown) => this.#ownerNotKept(path, error));
    }
    await handle.chmod(this.permissionBits(meta.mode, path));
    if (meta.mtime) await handle.utimes(meta.mtime, meta.mtime);
  }

  /** `applyToHandle` with synchronous calls on a descriptor. */
  applyToFdSync(fd: number, path: string, meta: EntryMetadata): void {
    if (this.#wantsOwner(meta)) {
      try {
        fchownSync(fd, meta.uid!, meta.gid!);
      } catch (error) {
        this.#ownerNotKept(path, error);
      }
    }
    fchmodSync(fd, this.permissionBits(meta.mode, path));
    if (meta.mtime) futimesSync(fd, meta.mtime, meta.mtime);
  }

  /** Owner and mtime of the link or node at `at` itself (never followed); its mode is not changed. */
  async applyToLink(at: string, path: string, meta: EntryMetadata): Promise<void> {
    if (this.#wantsOwner(meta)) {
      await lchown(at, meta.uid!, meta.gid!).catch((error: unknown) => this.#ownerNotKept(path, error));
    }
    if (meta.mtime) await lutimes(at, meta.mtime, meta.mtime);
  }

  #wantsOwner(meta: EntryMetadata): boolean {
    return this.#preserveOwner && meta.uid !== undefined && meta.gid !== undefined;
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
}
