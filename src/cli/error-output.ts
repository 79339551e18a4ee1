/** How a failure reaches the user: one line on stderr, or a JSON object with --json. Pure. */

import { EXIT_CODES, exitCodeFor, StargzError, toStargzError } from '../errors.js';

export interface RenderedError {
  text: string;
  exitCode: number;
}

/** Renders an error for stderr and picks the exit code (`interrupt` for SIGINT/SIGTERM cancellations). */
export function renderError(
  error: unknown,
  options: { json?: boolean; interrupt?: 'SIGINT' | 'SIGTERM' },
): RenderedError {
  const failure = toStargzError(error, StargzError.is(error) ? undefined : 'E_INTERNAL');
  let exitCode = exitCodeFor(failure);
  if (failure.code === 'E_ABORTED' && options.interrupt) {
    exitCode = options.interrupt === 'SIGINT' ? EXIT_CODES.sigint : EXIT_CODES.sigterm;
  }
  if (options.json) {
    return { text: `${JSON.stringify({ error: { ...failure.toJSON(), exitCode } })}\n`, exitCode };
  }
  const hint = failure.code === 'E_INTERNAL' ? ' (this is a bug in starget: please report it)' : '';
  return { text: `starget: error: ${failure.message}${hint}\n`, exitCode };
}
