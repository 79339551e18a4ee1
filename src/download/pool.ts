/** A small worker pool: N tasks at a time, cancellation through an AbortSignal, first failure stops all. */

import { StargzError, toStargzError } from '../errors.js';

export const DEFAULT_CONCURRENCY = 4;

export interface PoolOptions {
  /** tasks running at once (default 4) */
  concurrency?: number;
  /** aborting it stops taking new items and aborts the signal handed to running ones */
  signal?: AbortSignal;
}

/**
 * Runs `worker` over `items`, taking the next item as soon as a worker is free. Resolves when all are
 * done. On the first failure (or when `signal` aborts) no new item starts, the signal passed to running
 * workers is aborted, and the promise rejects with that failure as a StargzError once they have settled.
 */
export async function runPool<T>(
  items: Iterable<T>,
  worker: (item: T, signal: AbortSignal) => Promise<void>,
  options: PoolOptions = {},
): Promise<void> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new StargzError('E_USAGE', `concurrency must be a whole number of at least 1, not ${concurrency}`);
  }
  const controller = new AbortController();
  let failure: StargzError | undefined;
  const fail = (error: unknown) => {
    if (failure) return;
    failure = toStargzError(error);
    controller.abort(failure);
  };
  const onOuterAbort = () =>
    fail(new StargzError('E_ABORTED', 'the download was cancelled', { cause: options.signal?.reason }));
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const iterator = items[Symbol.iterator]();
  const lane = async () => {
    while (!failure) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await worker(next.value, controller.signal);
      } catch (error) {
        fail(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure) throw failure;
}
