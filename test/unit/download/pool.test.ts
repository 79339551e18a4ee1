import { describe, expect, it } from 'vitest';
import { runPool } from '../../../src/download/pool.js';
import { StargzError } from '../../../src/errors.js';

/** A promise with its resolve exposed, to step workers by hand. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('runPool', () => {
  it('runs every item with at most N at a time', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await runPool(
      Array.from({ length: 20 }, (_, i) => i),
      async (item) => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        seen.push(item);
        running--;
      },
      { concurrency: 3 },
    );
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  it('stops taking items after a failure, aborts running workers and rethrows as StargzError', async () => {
    const started: number[] = [];
    const abortedWorkers: number[] = [];
    const slow = gate();
    const result = runPool(
      [0, 1, 2, 3, 4, 5],
      async (item, signal) => {
        started.push(item);
        if (item === 1) throw new StargzError('E_DIGEST_MISMATCH', 'bad chunk');
        signal.addEventListener('abort', () => abortedWorkers.push(item));
        await slow.promise;
      },
      { concurrency: 2 },
    );
    await tick();
    slow.open();
    await expect(result).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(started).toEqual([0, 1]);
    expect(abortedWorkers).toEqual([0]);
  });

  it('wraps a plain error', async () => {
    await expect(
      runPool([1], async () => {
        throw new Error('boom');
      }),
    ).rejects.toSatisfy((e) => StargzError.is(e) && e.message === 'boom');
  });

  it('cancels through the outer signal', async () => {
    const outer = new AbortController();
    const started: number[] = [];
    const result = runPool(
      [0, 1, 2, 3],
      async (item, signal) => {
        started.push(item);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      },
      { concurrency: 1, signal: outer.signal },
    );
    await tick();
    outer.abort();
    await expect(result).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(started).toEqual([0]);
  });

  it('does not start when the signal is already aborted', async () => {
    let calls = 0;
    await expect(
      runPool([1, 2], async () => void calls++, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(calls).toBe(0);
  });

  it('refuses a bad concurrency', async () => {
    await expect(runPool([1], async () => {}, { concurrency: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('takes items lazily, so later items can see what earlier ones did', async () => {
    const done = new Set<number>();
    function* items() {
      for (let i = 0; i < 5; i++) if (!done.has(i)) yield i;
    }
    const ran: number[] = [];
    await runPool(
      items(),
      async (item) => {
        ran.push(item);
        done.add(item + 1);
      },
      { concurrency: 1 },
    );
    expect(ran).toEqual([0, 2, 4]);
  });
});
