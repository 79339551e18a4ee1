/** The global flags as the commands receive them, and their checks. Pure. */

import { StargzError } from '../errors.js';

export interface GlobalFlags {
  platform?: string;
  credential?: string;
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
  insecure?: boolean;
  concurrency?: number;
  /** false with --no-progress */
  progress: boolean;
  skipVerify?: boolean;
  verbose?: boolean;
  debug?: boolean;
  json?: boolean;
  config?: string;
  /** false with --no-cache */
  cache: boolean;
  /** hidden tuning flag: bytes read from the end of each layer at first */
  tailSize?: number;
}

/** Names of the flags the user set on the command line (as opposed to defaults), for settings precedence. */
export type ExplicitFlags = ReadonlySet<keyof GlobalFlags>;

/** Parses `--concurrency N`: a whole number from 1 to 64. */
export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 64) {
    throw new StargzError(
      'E_USAGE',
      `--concurrency ${JSON.stringify(value)} is not a whole number from 1 to 64`,
    );
  }
  return n;
}

/** Parses `--tail-size N`: whole bytes from 51 (an eStargz footer) to 64 MiB, with an optional k/m suffix. */
export function parseTailSize(value: string): number {
  const match = /^(\d+)([km]i?b?)?$/i.exec(value.trim());
  const unit = match?.[2]?.[0]?.toLowerCase();
  const n = match ? Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 51 || n > 64 * 1024 * 1024) {
    throw new StargzError(
      'E_USAGE',
      `--tail-size ${JSON.stringify(value)} is not a byte count from 51 to 64M (e.g. 262144, 256k, 1m)`,
    );
  }
  return n;
}

/** Splits `--credential USER:PASSWORD` at the first ':'. The message never repeats the value. */
export function parseCredentialFlag(value: string): { username: string; password: string } {
  const colon = value.indexOf(':');
  if (colon <= 0) {
    throw new StargzError(
      'E_USAGE',
      '--credential must be USER:PASSWORD (the user name is empty or the ":" missing)',
    );
  }
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** Checks `--platform os/arch[/variant]` and returns its parts. */
export function parsePlatformFlag(value: string): { os: string; architecture: string; variant?: string } {
  const parts = value.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9._-]+$/.test(p))) {
    throw new StargzError(
      'E_USAGE',
      `--platform ${JSON.stringify(value)} is not os/arch[/variant], e.g. linux/arm64`,
    );
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Reads a password from stdin for `--password-stdin` (trailing newline removed). */
export async function readPasswordFromStdin(stdin: AsyncIterable<Uint8Array | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new StargzError('E_USAGE', '--password-stdin read an empty password');
  return text;
}

/** Checks the combinations of credential flags. */
export function checkCredentialFlags(flags: GlobalFlags): void {
  if (flags.passwordStdin && !flags.username) {
    throw new StargzError('E_USAGE', '--password-stdin needs --username');
  }
  if (flags.username && !flags.passwordStdin) {
    throw new StargzError('E_USAGE', '--username needs --password-stdin (or use --credential USER:PASSWORD)');
  }
  if (flags.credential !== undefined && flags.username) {
    throw new StargzError('E_USAGE', 'use either --credential or --username with --password-stdin, not both');
  }
  if (flags.credential !== undefined) parseCredentialFlag(flags.credential);
  if (flags.platform !== undefined) parsePlatformFlag(flags.platform);
}
