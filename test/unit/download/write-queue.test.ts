import { describe, expect, it } from 'vitest';
import { WriteQueue } from '../../../src/download/_write-queue.js';
import { StargzError } from '../../../src/errors.js';

/** A write that finishes when the test says so. */
function gate() {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteQueue', () => {
  it('keeps at most maxWrites in flight', async () => {
    const queue = new WriteQueue({ maxWrites: 2, maxBytes: 1000, blocking: false });
    const gates = [gate(), gate(), gate()];
    let started = 0;
    await queue.add(1, () => {
      started++;
      return gates[0]!.done;
    });
    await queue.add(1, () => {
      started++;
      return gates[1]!.done;
    });
    let thirdAdded = false;
    const third = queue
      .add(1, () => {
        started++;
        return gates[2]!.done;
      })
      .then(() => {
        thirdAdded = true;
      });
    await tick();
    expect([started, thirdAdded]).toEqual([2, false]);
    gates[1]!.open();
    await third;
    expect(started).toBe(3);
    gates[0]!.open();
    gates[2]!.open();
    await queue.drain();
  });

  it('keeps the bytes held under maxBytes, but lets one oversized write run alone', async () => {
    const queue = new WriteQueue({ maxWrites: 10, maxBytes: 100, blocking: false });
    const first = gate();
    await queue.add(60, () => first.done);
    let secondStarted = false;
    const second = queue.add(60, async () => {
      secondStarted = true;
    });
    await tick();
    expect(secondStarted).toBe(false);
    first.open();
    await second;
    expect(secondStarted).toBe(true);
    await queue.add(500, async () => {});
    await queue.drain();
  });

  it('wakes every caller waiting for room', async () => {
    const queue = new WriteQueue({ maxWrites: 1, maxBytes: 1000, blocking: false });
    const first = gate();
    await queue.add(1, () => first.done);
    const waiting = [queue.add(1, async () => {}), queue.add(1, async () => {})];
    first.open();
    await Promise.all(waiting);
    await queue.drain();
  });

  it('throws the first failure to the next caller and from drain, after every write settled', async () => {
    const queue = new WriteQueue({ maxWrites: 4, maxBytes: 1000, blocking: false });
    const slow = gate();
    let slowEnded = false;
    await queue.add(1, async () => {
      await slow.done;
      slowEnded = true;
    });
    await queue.add(1, async () => {
      throw new StargzError('E_DIGEST_MISMATCH', 'bad');
    });
    await tick();
    let ran = false;
    await expect(
      queue.add(1, async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(ran).toBe(false);
    const drained = queue.drain().then(
      () => 'resolved',
      (error: StargzError) => error.code,
    );
    await tick();
    expect(slowEnded).toBe(false);
    slow.open();
    expect(await drained).toBe('E_DIGEST_MISMATCH');
    expect(slowEnded).toBe(true);
  });

  it('tells writes whether to block, and lets the event loop run between slices', async () => {
    const blocking = new WriteQueue({ maxWrites: 4, maxBytes: 1000, blocking: true });
    const told: boolean[] = [];
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 0);
    const busyUntil = performance.now() + 30;
    while (performance.now() < busyUntil) {
      await blocking.add(1, async (block) => {
        told.push(block);
        const end = performance.now() + 1;
        while (performance.now() < end) {
          // a synchronous write of 1 ms
        }
      });
    }
    await blocking.drain();
    expect(timerRan).toBe(true);
    expect(new Set(told)).toEqual(new Set([true]));
    const pooled = new WriteQueue({ maxWrites: 4, maxBytes: 1000, blocking: false });
    await pooled.add(1, async (block) => {
      told.push(block);
    });
    expect(told.at(-1)).toBe(false);
  });
});
