/**
 * Maps the arguments of `starget get` to a plan: which layer, which patterns, where the output goes.
 * Two forms are accepted:
 *   get IMAGE [BLOB_DIGEST] PATTERN [OUTPUT]   the original stargz-get form
 *   get IMAGE [BLOB_DIGEST] PATTERN... -o DIR  several patterns into DIR
 */

import { StargzError } from '../errors.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** True for a layer digest as the positional BLOB_DIGEST argument takes it. */
export function isLayerDigest(value: string): boolean {
  return DIGEST.test(value);
}

export interface GetPlan {
  /** restrict to this layer (from BLOB_DIGEST or --layer) */
  layer?: string;
  patterns: string[];
  /** the output directory (-o DIR), or OUTPUT in the original form, or '.' */
  output: string;
  /**
   * 'tree': every match lands at output/<path in image>.
   * 'target': the original form; a single non-directory match is written to `output` itself
   * (or output/<basename> when `output` is an existing directory), anything else lands as in 'tree'.
   */
  mode: 'tree' | 'target';
}

/** Resolves the positional arguments after IMAGE (and the -o / --layer flags) into a GetPlan. */
export function planGetArguments(args: string[], flags: { output?: string; layer?: string }): GetPlan {
  const rest = [...args];
  let layer = flags.layer;
  if (layer !== undefined && !isLayerDigest(layer)) {
    throw new StargzError(
      'E_USAGE',
      `--layer ${JSON.stringify(layer)} is not a layer digest (sha256:<64 hex>)`,
    );
  }
  if (rest.length > 1 && isLayerDigest(rest[0]!)) {
    const positional = rest.shift()!;
    if (layer !== undefined && layer !== positional) {
      throw new StargzError('E_USAGE', `two different layers given: ${positional} and --layer ${layer}`);
    }
    layer = positional;
  }
  if (rest.length === 0) {
    throw new StargzError(
      'E_USAGE',
      'get needs a PATTERN: a file, a directory, "." for everything, or a glob',
    );
  }
  for (const pattern of rest) {
    if (pattern === '')
      throw new StargzError('E_USAGE', 'an empty PATTERN matches nothing: use "." for everything');
  }
  if (flags.output !== undefined) {
    if (flags.output === '') throw new StargzError('E_USAGE', '-o needs a directory');
    return { ...(layer ? { layer } : {}), patterns: rest, output: flags.output, mode: 'tree' };
  }
  if (rest.length === 1) return { ...(layer ? { layer } : {}), patterns: rest, output: '.', mode: 'target' };
  if (rest.length === 2) {
    return { ...(layer ? { layer } : {}), patterns: [rest[0]!], output: rest[1]!, mode: 'target' };
  }
  throw new StargzError(
    'E_USAGE',
    `get got ${rest.length} arguments after IMAGE: for several patterns use -o DIR ` +
      '(without -o, the second argument is the OUTPUT, as in stargz-get)',
  );
}
