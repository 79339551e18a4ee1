/** Deterministic TOC-like JSON of a given size, with its digest, for the cache tests. */

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { CachedToc } from '../../../src/cache/index.js';

export function makeToc(approxBytes: number, seed = 'a'): CachedToc {
  const entries: string[] = [];
  let size = 0;
  for (let i = 0; size < approxBytes; i++) {
    const entry = `{"name":"usr/share/${seed}/file-${i}.txt","type":"reg","size":${i * 7},"offset":${i * 512}}`;
    entries.push(entry);
    size += entry.length + 1;
  }
  const tocJson = Buffer.from(`{"version":1,"entries":[${entries.join(',')}]}`);
  const tocDigest = `sha256:${createHash('sha256').update(tocJson).digest('hex')}`;
  const tocOffset = 10_000_000;
  return {
    tocJson,
    tocDigest,
    footer: { kind: 'estargz', size: 51, tocOffset },
    blobSize: tocOffset + 200_000,
  };
}

export const layerDigestFor = (name: string): string =>
  `sha256:${createHash('sha256').update(`layer ${name}`).digest('hex')}`;

function tarHeader(name: string, size: number, type: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write(type, 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

const padded = (data: Buffer): Buffer =>
  Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/**
 * A TOC gzip member as an eStargz writer makes it: a tar whose entry `name` holds `json`, optionally behind
 * a PAX record naming it (as writers do for long names).
 */
export function makeTocMember(json: Uint8Array, options: { name?: string; pax?: boolean } = {}): Buffer {
  const name = options.name ?? 'stargz.index.json';
  const parts: Buffer[] = [];
  if (options.pax === true) {
    const record = (n: number) => `${n} path=${name}\n`;
    let length = record(0).length;
    while (record(length).length !== length) length = record(length).length;
    const pax = Buffer.from(record(length));
    parts.push(tarHeader('PaxHeaders/x', pax.length, 'x'), padded(pax));
    parts.push(tarHeader('truncated-name', json.length, '0'));
  } else {
    parts.push(tarHeader(name, json.length, '0'));
  }
  parts.push(padded(Buffer.from(json)), Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}
