/**
 * Helpers for the end-to-end tests: run the built CLI as a child process, and read an extracted tree back
 * as manifest.tsv rows to compare with a fixture's oracle.
 */

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManifestRow } from '../helpers/manifest-tsv.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    newest = Math.max(newest, name.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure dist/ is built from the current sources (`npm test` builds first; a direct `vitest run` may
 * not have). Builds under a lock so parallel suites do not race.
 */
export function ensureBuilt(): void {
  const fresh = (): boolean => existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(join(ROOT, 'src'));
  if (fresh()) return;
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const lock = join(ROOT, '.tmp', 'dist.build-lock');
  for (let attempt = 0; attempt < 600; attempt++) {
    try {
      mkdirSync(lock);
    } catch {
      spawnSync('sleep', ['0.2']);
      continue;
    }
    try {
      if (!fresh()) {
        const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
        if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
      }
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  throw new Error('timed out waiting for another suite to build dist/');
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `node dist/cli/main.js ...args` and collects everything it printed. */
export function runStarget(
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    input?: string;
    timeoutMs?: number;
  } = {},
): Promise<CliRun> {
  // each run gets its own empty cache unless the test names one, so runs never see each other's TOCs
  const ownCache =
    options.env?.['XDG_CACHE_HOME'] === undefined && options.env?.['STARGET_CACHE_DIR'] === undefined;
  const cacheHome = ownCache ? mkdtempSync(join(tmpdir(), 'starget-e2e-cache-')) : undefined;
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...isolatedEnv(), ...(cacheHome ? { XDG_CACHE_HOME: cacheHome } : {}), ...(options.env ?? {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(options.input ?? '');
  }).finally(() => {
    if (cacheHome) rmSync(cacheHome, { recursive: true, force: true });
  });
}

/** An environment without the user's docker/starget configuration: HOME and config dirs point nowhere. */
export function isolatedEnv(): Record<string, string | undefined> {
  const empty = join(ROOT, '.tmp', 'e2e-home');
  mkdirSync(empty, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: empty,
    XDG_CONFIG_HOME: join(empty, '.config'),
    XDG_CACHE_HOME: join(empty, '.cache'),
    XDG_RUNTIME_DIR: join(empty, 'run'),
    DOCKER_CONFIG: join(empty, '.docker'),
  };
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Reads an extracted tree back as manifest rows (path order as in the oracle: sorted by UTF-8 bytes).
 * uid/gid and xattrs are left as '-' (not kept without --same-owner); hardlinkOf is filled in by
 * `linkHardlinks` from the expected rows.
 */
export async function scanTree(root: string): Promise<ManifestRow[]> {
  const rows: ManifestRow[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const st = await lstat(path);
      const rel = relative(root, path);
      const row: ManifestRow = {
        path: rel,
        type: '-',
        mode: octal(st.mode),
        uid: '-',
        gid: '-',
        size: '-',
        sha256: '-',
        link: '-',
        mtime: isoSeconds(st.mtime),
        xattrs: '-',
        hardlinkOf: '-',
      };
      if (st.isDirectory()) {
        row.type = 'dir';
        await walk(path);
      } else if (st.isFile()) {
        row.type = 'reg';
        row.size = String(st.size);
        row.sha256 = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      } else if (st.isSymbolicLink()) {
        row.type = 'symlink';
        row.link = await readlink(path);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        row.type = st.isCharacterDevice() ? 'char' : 'block';
        row.link = `${Math.floor(st.rdev / 256) & 0xfff},${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`;
      } else if (st.isFIFO()) {
        row.type = 'fifo';
      }
      rows.push(row);
    }
  };
  await walk(root);
  return rows.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** Sets hardlinkOf on `actual` rows whose file shares its inode with the target the oracle names. */
export async function linkHardlinks(
  root: string,
  expected: ManifestRow[],
  actual: ManifestRow[],
): Promise<void> {
  const byPath = new Map(actual.map((row) => [row.path, row]));
  for (const row of expected) {
    if (row.hardlinkOf === '-') continue;
    const mine = byPath.get(row.path);
    if (!mine) continue;
    try {
      const [a, b] = await Promise.all([lstat(join(root, row.path)), lstat(join(root, row.hardlinkOf))]);
      if (a.ino === b.ino && a.dev === b.dev) mine.hardlinkOf = row.hardlinkOf;
    } catch {
      // a missing side shows as a difference
    }
  }
}

/**
 * Makes oracle rows comparable with a scanned tree: uid/gid/xattrs are not kept without --same-owner,
 * implied directories (mtime '-') get whatever time they were created at, and non-root runs skip devices
 * and drop setuid/setgid.
 */
export function comparableExpected(rows: ManifestRow[], actual: ManifestRow[]): ManifestRow[] {
  const actualByPath = new Map(actual.map((row) => [row.path, row]));
  const root = process.getuid?.() === 0;
  return rows
    .filter((row) => root || !['char', 'block', 'fifo'].includes(row.type))
    .map((row) => {
      const out: ManifestRow = { ...row, uid: '-', gid: '-', xattrs: '-' };
      if (row.mtime === '-') out.mtime = actualByPath.get(row.path)?.mtime ?? '-';
      if (!root) out.mode = octal(Number.parseInt(row.mode, 8) & 0o1777);
      return out;
    });
}
