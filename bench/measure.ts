/** Runs a command as a child process and measures its wall time and peak RSS. */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measured {
  wallMs: number;
  /** peak resident set size of the command in bytes, when it could be measured */
  peakRssBytes?: number;
  exitCode: number;
  stdoutBytes: number;
  stdoutLines: number;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME);

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** measure peak RSS (through GNU time when present) */
  rss?: boolean;
}

/**
 * Runs `command` with `args`, draining stdout (only its size is kept) and keeping stderr for errors.
 * Peak RSS comes from GNU time's `%M`; without GNU time it is left undefined and the caller says so.
 */
export async function runMeasured(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<Measured> {
  const tmp = await mkdtemp(join(tmpdir(), 'starget-bench-time-'));
  const timeFile = join(tmp, 'time');
  const useTime = options.rss === true && hasGnuTime;
  const [file, argv] = useTime ? [GNU_TIME, ['-f', '%M', '-o', timeFile, command, ...args]] : [command, args];
  try {
    const start = performance.now();
    const child = spawn(file, argv, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdoutBytes = 0;
    let stdoutLines = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) stdoutLines++;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString('utf8');
    });
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
    });
    const wallMs = performance.now() - start;
    const measured: Measured = { wallMs, exitCode, stdoutBytes, stdoutLines, stderr };
    if (useTime) {
      const text = await readFile(timeFile, 'utf8').catch(() => '');
      const kb = Number(text.trim().split('\n').pop());
      if (Number.isFinite(kb) && kb > 0) measured.peakRssBytes = kb * 1024;
    }
    return measured;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Throws with the command's stderr when it failed. */
export function mustSucceed(what: string, m: Measured): Measured {
  if (m.exitCode !== 0)
    throw new Error(`${what} failed with exit code ${m.exitCode}:\n${m.stderr.slice(-4000)}`);
  return m;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export { hasGnuTime };
