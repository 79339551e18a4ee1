/** `starget ls IMAGE [BLOB_DIGEST] [PATTERN...] [--layer D] [-l] [--json]`: the paths of an image or one layer. */

import { StargzError } from '../../errors.js';
import { toListedEntry } from '../entries.js';
import { formatList, formatListJson, formatLongList } from '../format.js';
import { isLayerDigest } from '../get-args.js';
import { writeOut } from '../io.js';
import { openSessionImage, type Session } from '../session.js';

/** Splits `ls` arguments after IMAGE into the layer and the pattern. */
export function planLsArguments(
  args: string[],
  flags: { layer?: string },
): { layer?: string; patterns: string[] } {
  const rest = [...args];
  let layer = flags.layer;
  if (rest.length > 0 && isLayerDigest(rest[0]!)) {
    const positional = rest.shift()!;
    if (layer !== undefined && layer !== positional) {
      throw new StargzError('E_USAGE', `two different layers given: ${positional} and --layer ${layer}`);
    }
    layer = positional;
  }
  if (rest.some((pattern) => pattern === '')) {
    throw new StargzError('E_USAGE', 'an empty PATTERN matches nothing: use "." for everything');
  }
  return { ...(layer !== undefined ? { layer } : {}), patterns: rest };
}

export async function runLs(
  session: Session,
  args: string[],
  options: { layer?: string; long?: boolean },
): Promise<void> {
  const [reference, ...rest] = args;
  const plan = planLsArguments(rest, options);
  const image = await openSessionImage(
    session,
    reference!,
    plan.layer !== undefined ? { layer: plan.layer } : {},
  );
  try {
    const entries = (await image.list(plan.patterns)).map(toListedEntry);
    const text = session.globals.json
      ? formatListJson(entries)
      : options.long
        ? formatLongList(entries)
        : formatList(entries);
    await writeOut(session.io.stdout, text);
  } finally {
    await image.close();
  }
}
