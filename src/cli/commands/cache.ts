/** `starget cache info` and `starget cache prune [--all] [--older-than AGE]`. */

import { ContentCache } from '../../cache/content-cache.js';
import { StargzError } from '../../errors.js';
import { formatBytes } from '../format.js';
import { writeOut } from '../io.js';
import type { Session } from '../session.js';

/** What `prune` removes when neither --all nor --older-than is given. */
export const DEFAULT_PRUNE_AGE = '30d';

const AGE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const AGE_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds of an age such as `30d`, `12h`, `90m`, `2w`; E_USAGE otherwise. */
export function parseAge(text: string): number {
  const match = AGE.exec(text.trim());
  if (!match) {
    throw new StargzError(
      'E_USAGE',
      `--older-than ${JSON.stringify(text)} is not an age: use a number and a unit (ms, s, m, h, d, w), e.g. 30d`,
    );
  }
  return Number(match[1]) * AGE_UNIT_MS[match[2]!]!;
}

function cacheOf(session: Session): ContentCache {
  return new ContentCache({ dir: session.settings.cacheDir, logger: session.logger });
}

export async function runCacheInfo(session: Session): Promise<void> {
  const info = await cacheOf(session).info();
  if (session.globals.json) {
    await writeOut(session.io.stdout, `${JSON.stringify(info)}\n`);
    return;
  }
  const row = (name: string, kind: { entries: number; bytes: number }) =>
    `${name.padEnd(10)} ${String(kind.entries).padStart(7)}  ${formatBytes(kind.bytes)}`;
  const lines = [
    `Cache: ${info.dir}`,
    `${'KIND'.padEnd(10)} ${'ENTRIES'.padStart(7)}  SIZE`,
    row('tocs', info.tocs),
    row('manifests', info.manifests),
    row('platforms', info.platforms),
    row('total', info),
  ];
  await writeOut(session.io.stdout, `${lines.join('\n')}\n`);
}

export async function runCachePrune(
  session: Session,
  options: { all?: boolean; olderThan?: string },
): Promise<void> {
  if (options.all && options.olderThan !== undefined) {
    throw new StargzError('E_USAGE', 'use either --all or --older-than, not both');
  }
  const olderThan = options.all ? undefined : parseAge(options.olderThan ?? DEFAULT_PRUNE_AGE);
  const cache = cacheOf(session);
  const result = await cache.prune(options.all ? { all: true } : { olderThan: olderThan! });
  if (session.globals.json) {
    await writeOut(session.io.stdout, `${JSON.stringify({ dir: cache.dir, ...result })}\n`);
    return;
  }
  await writeOut(
    session.io.stdout,
    `removed ${result.removed} entries (${formatBytes(result.bytes)}) from ${cache.dir}\n`,
  );
}
