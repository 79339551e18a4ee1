/**
 * Reads the TOC JSON out of a TOC gzip member (the form a layer's tail holds it in): gunzip with an output
 * cap, then the first regular tar entry named `stargz.index.json` (PAX and GNU long-name records skipped).
 * Pure; returns undefined for anything that is not such a member.
 */

import { gunzipSync } from 'node:zlib';
import { TOC_TAR_NAME } from '../estargz/types.js';

const BLOCK = 512;

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const nul = bytes.indexOf(0);
  return Buffer.from(nul < 0 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

function sizeOf(header: Uint8Array): number | undefined {
  const raw = header.subarray(124, 136);
  if ((raw[0]! & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i]!;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = field(header, 124, 12).trim();
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function parsePaxPath(data: Uint8Array): string | undefined {
  const text = Buffer.from(data).toString('utf8');
  const match = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
  return match?.[1];
}

/** The bytes of `stargz.index.json` inside a TOC gzip member, or undefined. */
export function tocJsonFromMember(member: Uint8Array, maxJsonBytes: number): Uint8Array | undefined {
  let tar: Buffer;
  try {
    tar = gunzipSync(member, { maxOutputLength: maxJsonBytes + 64 * 1024 });
  } catch {
    return undefined;
  }
  let at = 0;
  let overrideName: string | undefined;
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return undefined;
    const size = sizeOf(header);
    if (size === undefined) return undefined;
    const dataStart = at + BLOCK;
    const data = tar.subarray(dataStart, dataStart + size);
    if (data.length !== size) return undefined;
    const type = String.fromCharCode(header[156]!);
    if (type === 'x') overrideName = parsePaxPath(data);
    else if (type === 'L') overrideName = field(data, 0, data.length);
    else if (type === 'g') {
      // global PAX header: nothing we need
    } else {
      const prefix = field(header, 345, 155);
      const name =
        overrideName ?? (prefix === '' ? field(header, 0, 100) : `${prefix}/${field(header, 0, 100)}`);
      overrideName = undefined;
      if ((type === '0' || type === '\0') && name.replace(/^\.?\//, '') === TOC_TAR_NAME) {
        return size > maxJsonBytes ? undefined : data;
      }
    }
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return undefined;
}
