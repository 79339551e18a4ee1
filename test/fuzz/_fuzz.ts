/**
 * Shared settings of the fuzz suites: a fixed seed and a bounded number of runs in `npm test`; `npm run fuzz`
 * raises the runs with FUZZ_RUNS (and FUZZ_SEED picks another seed to explore further).
 */

import fc from 'fast-check';
import { expect } from 'vitest';
import { StargzError } from '../../src/errors.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20240607);
const RUNS = process.env['FUZZ_RUNS'] ? Number(process.env['FUZZ_RUNS']) : undefined;

/** fast-check parameters: fixed seed, `runs` (or FUZZ_RUNS scaled down by `cost` for expensive properties). */
export function fuzzParams(runs: number, cost = 1): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: RUNS === undefined ? runs : Math.max(runs, Math.floor(RUNS / cost)) };
}

/** Runs `fn`: returns its value, or undefined after checking that what it threw is a StargzError with a code. */
export function okOrStargzError<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    expectStargzError(error);
    return undefined;
  }
}

/** The async form of okOrStargzError. */
export async function okOrStargzErrorAsync<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    expectStargzError(error);
    return undefined;
  }
}

function expectStargzError(error: unknown): void {
  if (!StargzError.is(error)) {
    throw new Error(`expected a StargzError, got ${error instanceof Error ? error.stack : String(error)}`);
  }
  expect(typeof error.code).toBe('string');
  expect(error.code).toMatch(/^E_[A-Z_]+$/);
}

/** A copy of `bytes` with `edits` applied: [position, new byte] pairs (positions wrap around). */
export function mutate(bytes: Uint8Array, edits: readonly (readonly [number, number])[]): Buffer {
  const copy = Buffer.from(bytes);
  if (copy.length === 0) return copy;
  for (const [at, value] of edits) copy[at % copy.length] = value;
  return copy;
}

/** Arbitrary edits for `mutate`: 1..max byte replacements. */
export const edits = (max = 4) =>
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: max });
