/**
 * A file the safe writer is writing in chunks, under a temporary (or resumable partial) name; it is
 * renamed to its final name, with its metadata applied, only on commit.
 */

import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { StargzError } from '../errors.js';
import type { Dir } from './_dir-table.js';
import { readAll } from './_fs.js';
import type { EntryMetadata, MetadataWriter } from './_metadata.js';
import type { Place, Places } from './_places.js';

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

/** An opened file and where it goes. */
export interface OpenedFile {
  /** the final path relative to the output directory */
  path: string;
  /** its final name */
  place: Place;
  /** the temporary or partial name it is written under */
  temp: Place;
  handle: FileHandle;
  meta: EntryMetadata;
  /** `abort` keeps the file (a resumable partial file) instead of removing it */
  keepOnAbort: boolean;
  /** the directories held for it, released once it is committed, aborted or discarded */
  held: Dir[];
}

/**
 * A FileWriter over `file`. `settled` is called with it each time it stops being open (committed,
 * aborted or discarded).
 */
export function createFileWriter(
  places: Places,
  metadata: MetadataWriter,
  file: OpenedFile,
  settled: (writer: FileWriter) => void,
): FileWriter {
  const { path, place, temp, handle, meta, keepOnAbort, held } = file;
  let position = 0;
  /** closed: the handle is closed but the file is still under its temporary or partial name */
  let state: 'open' | 'closed' | 'placed' | 'discarded' = 'open';
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const dir of held) places.dirs.release(dir);
  };
  const writer: FileWriter = {
    path,
    write: async (data, at) => {
      if (state !== 'open') throw new StargzError('E_INTERNAL', `write to ${path} after it was closed`);
      const start = at ?? position;
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await places.guard(path, undefined, () =>
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
        await places.guard(path, place.dir, async () => {
          await metadata.applyToHandle(handle, path, meta);
          const stats = await handle.stat();
          await handle.close();
          state = 'closed';
          await places.placeAt(temp, place, path);
          state = 'placed';
          places.committed.set(place.abs, { dev: stats.dev, ino: stats.ino });
        });
        release();
      } catch (error) {
        await writer.abort();
        throw error;
      } finally {
        settled(writer);
      }
    },
    abort: async () => {
      if (!keepOnAbort) return writer.discard();
      settled(writer);
      if (state === 'open') {
        state = 'closed';
        await handle.close().catch(() => {});
      }
      release();
    },
    discard: async () => {
      settled(writer);
      if (state === 'discarded' || state === 'placed') return release();
      if (state === 'open') await handle.close().catch(() => {});
      state = 'discarded';
      await unlink(places.at(temp)).catch(() => {});
      release();
    },
  };
  return writer;
}
