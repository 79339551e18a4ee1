/**
 * Deterministic file contents for the benchmark images: text that compresses like source and docs do,
 * and binaries that compress like executables (a mix of incompressible and repetitive blocks), or not at
 * all (model weights). The same seed always gives the same bytes.
 */

import { createCipheriv, createHash } from 'node:crypto';

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
export function prng(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` incompressible bytes from a keystream of `seed`. */
export function noiseBytes(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(`key ${seed}`).digest();
  const iv = createHash('md5').update(`iv ${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(n));
}

const WORDS = (
  'the of and to in is that for it as with was on be by this are or from at an which not have had but were ' +
  'function return const value import export default class interface type string number boolean undefined ' +
  'license copyright permission software warranty distributed provided without including limited merchant ' +
  'config option path file directory error message version package module library install build test run ' +
  'server client request response header status buffer stream socket timeout retry cache layer image'
).split(' ');
const PUNCT = [' ', ' ', ' ', ' ', ' ', ', ', '. ', '(', ') ', ' = ', ';\n', '\n', '\n  ', ': '];

/** About `size` bytes (exactly `size`) of text-like content with the redundancy of source code and docs. */
export function textBytes(seed: string, size: number): Buffer {
  const random = prng(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[Math.floor(random() * WORDS.length)]!;
    const sep = PUNCT[Math.floor(random() * PUNCT.length)]!;
    const token = random() < 0.05 ? `${word}${Math.floor(random() * 1000)}${sep}` : word + sep;
    parts.push(token);
    length += token.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, size);
}

/** `size` bytes shaped like an executable: 64 KiB blocks, most incompressible, some text-like or zeroed. */
export function binaryBytes(seed: string, size: number): Buffer {
  const random = prng(`blocks ${seed}`);
  const block = 64 * 1024;
  const out = Buffer.alloc(size);
  for (let at = 0, i = 0; at < size; at += block, i++) {
    const n = Math.min(block, size - at);
    const pick = random();
    if (pick < 0.6) noiseBytes(`${seed}/${i}`, n).copy(out, at);
    else if (pick < 0.85) textBytes(`${seed}/${i}`, n).copy(out, at);
    // else: zeros (padding, bss-like sections)
  }
  return out;
}
