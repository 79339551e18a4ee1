/** Shared helpers of the eStargz unit tests. */

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { StargzError } from '../../../src/errors.js';
import { type ChunkSink, decodeMembers, type MemberRequest } from '../../../src/estargz/decode.js';
import type { LayerToc, TocEntry } from '../../../src/estargz/types.js';

export const fixturesDir = new URL('../../fixtures/', import.meta.url);

export function readFixture(path: string): Buffer {
  return readFileSync(new URL(path, fixturesDir));
}

/** The StargzError code a call fails with, or undefined when it succeeds. */
export async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (error) {
    expect(StargzError.is(error), String(error)).toBe(true);
    return (error as StargzError).code;
  }
  return undefined;
}

/** Requests for every chunk of `entries`, sorted as decodeMembers wants them. */
export function requestsFor(entries: readonly TocEntry[]): MemberRequest<TocEntry>[] {
  return entries
    .flatMap((entry) => entry.chunks.map((chunk) => ({ chunk, tag: entry, name: entry.name })))
    .sort((a, b) => a.chunk.offset - b.chunk.offset || a.chunk.innerOffset - b.chunk.innerOffset);
}

export interface RecordingSinks {
  openSink: (req: MemberRequest<TocEntry>) => ChunkSink;
  /** file name → its bytes, assembled from the chunks that ended */
  files(): Map<string, Buffer>;
  ended: number;
  aborted: unknown[];
  largestWrite: number;
}

/** Sinks that keep what they receive; chunks are put back in file order. */
export function recordingSinks(options: { delay?: boolean } = {}): RecordingSinks {
  const done = new Map<string, Map<number, Buffer>>();
  const state: RecordingSinks = {
    ended: 0,
    aborted: [],
    largestWrite: 0,
    openSink(req) {
      const pieces: Buffer[] = [];
      return {
        async write(data) {
          state.largestWrite = Math.max(state.largestWrite, data.length);
          pieces.push(Buffer.from(data));
          if (options.delay) await new Promise((resolve) => setImmediate(resolve));
        },
        end() {
          state.ended++;
          const chunks = done.get(req.tag.name) ?? new Map<number, Buffer>();
          chunks.set(req.chunk.chunkOffset, Buffer.concat(pieces));
          done.set(req.tag.name, chunks);
        },
        abort(err) {
          state.aborted.push(err);
        },
      };
    },
    files() {
      const out = new Map<string, Buffer>();
      for (const [name, chunks] of done) {
        const ordered = [...chunks.entries()].sort((a, b) => a[0] - b[0]).map(([, data]) => data);
        out.set(name, Buffer.concat(ordered));
      }
      return out;
    },
  };
  return state;
}

async function* pieces(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, Math.min(data.length, at + size));
}

/** Decodes every file of `layer` from the whole `blob` (as a server ignoring Range would send it). */
export async function decodeWholeBlob(
  blob: Uint8Array,
  layer: LayerToc,
  pieceSize = 4096,
): Promise<Map<string, Buffer>> {
  const sinks = recordingSinks();
  await decodeMembers(pieces(blob, pieceSize), 0, requestsFor(layer.toc.entries), sinks.openSink);
  return sinks.files();
}

/** A body of blob bytes [start, end) in pieces. */
export function bodyOf(
  blob: Uint8Array,
  start: number,
  end: number,
  pieceSize = 4096,
): AsyncIterable<Uint8Array> {
  return pieces(blob.subarray(start, end), pieceSize);
}

/** An independent clean("/" + name) without the leading "/", for checking the reader's names. */
export function cleanName(name: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}
