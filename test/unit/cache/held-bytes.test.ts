import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HeldBytes } from '../../../src/cache/held-bytes.js';
import { MemoryBlobSource } from '../../helpers/memory-blob-source.js';

async function readAll(source: { readRange: MemoryBlobSource['readRange'] }, start: number, end: number) {
  const response = await source.readRange(start, end);
  const pieces: Uint8Array[] = [];
  for await (const piece of response.body) pieces.push(piece);
  return { response, bytes: Buffer.concat(pieces) };
}

describe('HeldBytes', () => {
  const blob = randomBytes(10_000);

  it.each([
    // [held from, held to, read start, read end, served from memory]
    [6000, 9000, 6000, 9000, true],
    [6000, 9000, 7000, 7001, true],
    [6000, 9000, 5999, 7000, false],
    [6000, 9000, 8000, 9001, false],
    [6000, 9000, 0, 100, false],
  ])('held [%i, %i): read [%i, %i) from memory: %s', async (from, to, start, end, fromMemory) => {
    const source = new MemoryBlobSource(blob);
    const held = new HeldBytes();
    // the tail as read: from `from` to the blob end; only [from, to) is kept
    held.hold(source.digest, blob.subarray(from), from, to);
    const { response, bytes } = await readAll(held.wrap(source), start, end);
    expect(bytes).toEqual(blob.subarray(start, end));
    expect(response).toMatchObject({ kind: 'partial', start, end });
    expect(source.reads.length).toBe(fromMemory ? 0 : 1);
    expect(held.stats().served).toBe(fromMemory ? 1 : 0);
  });

  it('keeps at most the last maxPerBlob bytes, as a copy, and releases them', async () => {
    const source = new MemoryBlobSource(blob);
    const held = new HeldBytes(1000);
    const tail = Buffer.from(blob.subarray(5000));
    held.hold(source.digest, tail, 5000, 9000);
    expect(held.size).toBe(1000);
    tail.fill(0); // the buffer the bytes came from may be reused: the held copy is unaffected
    const wrapped = held.wrap(source);
    expect((await readAll(wrapped, 8000, 9000)).bytes).toEqual(blob.subarray(8000, 9000));
    expect(source.reads).toEqual([]);
    await readAll(wrapped, 7999, 8100);
    expect(source.reads).toEqual([{ start: 7999, end: 8100 }]);
    held.release();
    expect(held.size).toBe(0);
    await readAll(wrapped, 8000, 9000);
    expect(source.reads).toHaveLength(2);
  });

  it('holds nothing with a zero bound or an empty range, and only for the blob it was given', async () => {
    const source = new MemoryBlobSource(blob);
    const other = new MemoryBlobSource(randomBytes(10_000));
    const none = new HeldBytes(0);
    none.hold(source.digest, blob, 0, 10_000);
    expect(none.size).toBe(0);
    const held = new HeldBytes();
    held.hold(source.digest, blob.subarray(4000), 4000, 4000);
    expect(held.size).toBe(0);
    held.hold(source.digest, blob.subarray(4000), 4000, 5000);
    await readAll(held.wrap(other), 4000, 4100);
    expect(other.reads).toHaveLength(1);
  });
});
