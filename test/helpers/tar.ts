/** The smallest tar a test needs: one regular file in a ustar header, as an eStargz TOC member holds. */

/** A ustar header, the data and its padding to 512 bytes (no end-of-archive blocks). */
export function tarFile(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\u000000', 257);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([header, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A whole archive of one file: `tarFile` plus the two zero blocks that end an archive. */
export function tarOf(name: string, data: Buffer): Buffer {
  return Buffer.concat([tarFile(name, data), Buffer.alloc(1024)]);
}
