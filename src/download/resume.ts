/**
 * Resume state of a download, kept inside the output directory under `.starget-resume/`: one partial file
 * per file content (`<key>.partial`, written at file offsets) and an append-only journal of what was
 * verified: chunks checked against their `chunkDigest`, and files committed under their final names.
 * A rerun trusts nothing blindly: journaled chunks are re-hashed from the partial file and committed files
 * re-hashed against their digest before they are reused. The directory is removed after a successful run.
 */

import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { type FileHandle, lstat, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import type { SafeWriter } from './safe-writer.js';

/** The directory, relative to the output directory, that holds the resume state. */
export const RESUME_DIR = '.starget-resume';
/** State untouched for longer than this is thrown away (a week). */
export const DEFAULT_RESUME_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

const JOURNAL = 'journal';
/** Held by the run that writes into the output directory: `<pid>` of that process. */
const LOCK = 'lock';
/** Output directories a download of this process holds (two in one process are refused too). */
const HELD = new Set<string>();
const PARTIAL_SUFFIX = '.partial';
const HEADER = { starget: 'resume', version: 1 };
/** A journal larger than this is not read (it is thrown away and the run starts afresh). */
const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;
const KEY = /^[0-9a-f]{64}$/;
const LOCK_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
const APPEND_FLAGS =
  fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;

export interface ResumeStateOptions {
  /** false: throw away any state left by an earlier run and start afresh (default true) */
  resume?: boolean;
  /** state older than this is thrown away (default a week) */
  maxAgeMs?: number;
  logger?: Logger;
}

/** Whether a process with this pid runs (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function busy(root: string, pid: number): StargzError {
  return new StargzError(
    'E_IO',
    `another starget run (pid ${pid}) is extracting into ${root}: wait for it to finish, or use another output directory`,
    { details: { path: root, pid } },
  );
}

/** The key of one file content: its layer, its name in the layer, its size, digest and chunk layout. */
export function resumeKey(contentKey: string): string {
  return createHash('sha256').update(contentKey).digest('hex');
}

export class ResumeState {
  readonly #dirAbs: string;
  readonly #chunks = new Map<string, Set<number>>();
  readonly #committed = new Map<string, Set<string>>();
  #journal: FileHandle | undefined;
  #appending: Promise<void> = Promise.resolve();
  /** records not yet handed to a write */
  #unwritten: string[] = [];
  #appendFailure: unknown;
  /** progress records loaded or appended */
  #records = 0;
  /** whether this state holds the output directory's lock */
  #holdsLock = false;

  private constructor(dirAbs: string) {
    this.#dirAbs = dirAbs;
  }

  /**
   * Opens the state of `writer`'s output directory: loads the journal left by an interrupted run (unless
   * `resume` is false or it is older than `maxAgeMs`, when the state is removed), drops partial files
   * older than `maxAgeMs`, and opens the journal for appending.
   */
  static async open(writer: SafeWriter, options: ResumeStateOptions = {}): Promise<ResumeState> {
    const logger = options.logger ?? silentLogger;
    const maxAge = options.maxAgeMs ?? DEFAULT_RESUME_MAX_AGE_MS;
    const dirAbs = join(writer.root, RESUME_DIR);
    const journalAbs = join(dirAbs, JOURNAL);
    const state = new ResumeState(dirAbs);
    try {
      // a real directory (a symlink or file in the way is replaced), its mode restored by writer.finish
      await writer.mkdir(RESUME_DIR, { mode: 0o700 });
      await state.#lock(writer, logger);
      const journalStats = await lstat(journalAbs).catch(() => undefined);
      const stale = journalStats !== undefined && Date.now() - journalStats.mtimeMs > maxAge;
      if (options.resume === false || stale || (journalStats && !journalStats.isFile())) {
        if (journalStats) {
          logger.debug('resume state discarded', { reason: stale ? 'older than the limit' : 'not wanted' });
        }
        await state.#emptyButLock();
      } else if (journalStats) {
        await state.#load(journalAbs, journalStats.size, logger);
        await state.#dropOldPartials(maxAge);
      }
      const fresh = !(await lstat(journalAbs).catch(() => undefined));
      state.#journal = await open(await writer.resolve(`${RESUME_DIR}/${JOURNAL}`), APPEND_FLAGS, 0o600);
      if (fresh) await state.#journal.write(`${JSON.stringify(HEADER)}\n`);
      else await state.#journal.utimes(new Date(), new Date());
    } catch (error) {
      await state.#journal?.close().catch(() => {});
      await state.#unlock();
      if (StargzError.is(error)) throw error;
      throw new StargzError(
        'E_IO',
        `cannot keep resume state in ${dirAbs} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        { cause: error, details: { path: dirAbs } },
      );
    }
    return state;
  }

  /** The partial file of a content key, relative to the output directory. */
  partialPath(key: string): string {
    return `${RESUME_DIR}/${key}${PARTIAL_SUFFIX}`;
  }

  /** Chunk indexes an earlier run verified for `key` (to be re-checked against the partial file). */
  verifiedChunks(key: string): ReadonlySet<number> {
    return this.#chunks.get(key) ?? new Set();
  }

  /** Whether an earlier run committed `key` under the output path `path`. */
  wasCommitted(key: string, path: string): boolean {
    return this.#committed.get(key)?.has(path) ?? false;
  }

  /** Records that chunk `index` of `key` is in its partial file and matched its chunkDigest. */
  chunkVerified(key: string, index: number): Promise<void> {
    return this.#append({ key, chunk: index });
  }

  /** Records that `key` was committed under `path`. */
  fileCommitted(key: string, path: string): Promise<void> {
    return this.#append({ key, done: path });
  }

  /** Closes the journal, keeping the state for a later run when it records anything (else removes it). */
  async close(): Promise<void> {
    await this.#appending;
    await this.#journal?.close().catch(() => {});
    this.#journal = undefined;
    if (this.#records === 0) await this.clear();
    else await this.#unlock();
  }

  /** Removes the whole state directory (after a successful run). */
  async clear(): Promise<void> {
    await this.#appending;
    await this.#journal?.close().catch(() => {});
    this.#journal = undefined;
    const stats = await lstat(this.#dirAbs).catch(() => undefined);
    if (stats?.isDirectory()) await rm(this.#dirAbs, { recursive: true, force: true });
    this.#release();
  }

  /**
   * Takes the output directory for this run: a `lock` file holding this process's pid, created exclusively.
   * A lock whose process is gone (a killed run) is taken over; a live one is E_IO, since two runs writing
   * one tree would trample each other's partial files.
   */
  async #lock(writer: SafeWriter, logger: Logger): Promise<void> {
    if (HELD.has(this.#dirAbs)) throw busy(writer.root, process.pid);
    // reserved before the first await, so that a second download of this process sees it at once
    HELD.add(this.#dirAbs);
    this.#holdsLock = true;
    const lockRel = `${RESUME_DIR}/${LOCK}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(await writer.resolve(lockRel), LOCK_FLAGS, 0o600);
        await handle.write(`${process.pid}\n`);
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
          this.#release();
          throw error;
        }
      }
      const lockAbs = join(this.#dirAbs, LOCK);
      const owner = Number.parseInt(await readFile(lockAbs, 'utf8').catch(() => ''), 10);
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        this.#release();
        throw busy(writer.root, owner);
      }
      logger.debug('resume lock of a run that is gone: taken over', { pid: owner });
      await unlink(lockAbs).catch(() => {});
    }
  }

  /** Gives the lock up: its file goes, and the directory is free for another download of this process. */
  async #unlock(): Promise<void> {
    if (!this.#holdsLock) return;
    this.#release();
    await unlink(join(this.#dirAbs, LOCK)).catch(() => {});
  }

  #release(): void {
    if (this.#holdsLock) HELD.delete(this.#dirAbs);
    this.#holdsLock = false;
  }

  /** Removes the state an earlier run left (not the lock this run holds). */
  async #emptyButLock(): Promise<void> {
    const names = await readdir(this.#dirAbs).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => name !== LOCK)
        .map((name) => rm(join(this.#dirAbs, name), { recursive: true, force: true })),
    );
    this.#chunks.clear();
    this.#committed.clear();
  }

  /**
   * Appends a record; resolves once it is written. Records that come while a write is in flight are
   * written together by the next one (one system call for many files).
   */
  #append(record: { key: string; chunk?: number; done?: string }): Promise<void> {
    this.#unwritten.push(`${JSON.stringify(record)}\n`);
    this.#records++;
    this.#appending = this.#appending.then(async () => {
      const lines = this.#unwritten.join('');
      this.#unwritten = [];
      if (lines === '' || !this.#journal || this.#appendFailure) return;
      try {
        await this.#journal.write(lines);
      } catch (error) {
        // losing the journal only costs refetching on a later run: note it once, keep downloading
        this.#appendFailure = error;
      }
    });
    return this.#appending;
  }

  async #load(journalAbs: string, size: number, logger: Logger): Promise<void> {
    if (size > MAX_JOURNAL_BYTES) {
      logger.debug('resume journal too large: starting afresh', { size });
      await this.#emptyButLock();
      return;
    }
    const handle = await open(journalAbs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    let text: string;
    try {
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    const lines = text.split('\n');
    if (lines[0] !== JSON.stringify(HEADER)) {
      logger.debug('resume journal of another format: starting afresh');
      await this.#emptyButLock();
      return;
    }
    for (const line of lines.slice(1)) {
      const record = parseRecord(line);
      if (!record) continue; // a torn last line after a kill, or garbage: ignored
      this.#records++;
      if (record.done !== undefined) setOf(this.#committed, record.key).add(record.done);
      else if (record.chunk !== undefined) setOf(this.#chunks, record.key).add(record.chunk);
    }
  }

  async #dropOldPartials(maxAge: number): Promise<void> {
    for (const name of await readdir(this.#dirAbs)) {
      if (!name.endsWith(PARTIAL_SUFFIX)) continue;
      const abs = join(this.#dirAbs, name);
      const stats = await lstat(abs).catch(() => undefined);
      if (stats && (!stats.isFile() || Date.now() - stats.mtimeMs > maxAge)) {
        await unlink(abs).catch(() => {});
        this.#chunks.delete(name.slice(0, -PARTIAL_SUFFIX.length));
      }
    }
  }
}

function setOf<T>(map: Map<string, Set<T>>, key: string): Set<T> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function parseRecord(line: string): { key: string; chunk?: number; done?: string } | undefined {
  if (line === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { key, chunk, done } = value as Record<string, unknown>;
  if (typeof key !== 'string' || !KEY.test(key)) return undefined;
  if (typeof done === 'string') return { key, done };
  if (typeof chunk === 'number' && Number.isSafeInteger(chunk) && chunk >= 0) return { key, chunk };
  return undefined;
}
