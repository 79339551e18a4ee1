import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A temp directory of real `docker-credential-*` executables (bash scripts) for tests, with the PATH that
 * finds them. Every helper appends the server URL it was asked about to `calls.log`.
 */
export interface FakeHelpers {
  dir: string;
  env: Record<string, string>;
  /** server URLs asked, in order, as `NAME URL` lines */
  calls(): Promise<string[]>;
  /** adds a helper whose `get` runs this bash body (the server URL is in $url) */
  add(name: string, body: string): Promise<void>;
  /** a helper that answers from a table of server URL → {Username, Secret}, else "credentials not found" */
  addStore(name: string, table: Record<string, { Username: string; Secret: string }>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createFakeHelpers(): Promise<FakeHelpers> {
  const dir = await mkdtemp(join(tmpdir(), 'starget-helpers-'));
  const log = join(dir, 'calls.log');
  const helpers: FakeHelpers = {
    dir,
    env: { PATH: `${dir}:/usr/bin:/bin`, HOME: dir },
    async calls() {
      try {
        return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    async add(name, body) {
      const path = join(dir, `docker-credential-${name}`);
      const script = [
        '#!/bin/bash',
        '[ "$1" = get ] || { echo "unsupported action $1" >&2; exit 2; }',
        'url="$(cat)"',
        `printf '%s %s\\n' ${name} "$url" >> ${JSON.stringify(log)}`,
        body,
        '',
      ].join('\n');
      await writeFile(path, script);
      await chmod(path, 0o755);
    },
    async addStore(name, table) {
      const cases = Object.entries(table)
        .map(
          ([url, answer]) =>
            `  ${shellQuote(url)}) printf '%s' ${shellQuote(JSON.stringify({ ServerURL: url, ...answer }))} ;;`,
        )
        .join('\n');
      await helpers.add(
        name,
        `case "$url" in\n${cases}\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac`,
      );
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  return helpers;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
