import { PassThrough } from 'node:stream';
import type { CliIO } from '../../../src/cli/io.js';

/** In-memory streams for running the CLI in-process. */
export function memoryIO(stdinText = ''): CliIO & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const outChunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => outChunks.push(c));
  stderr.on('data', (c: Buffer) => errChunks.push(c));
  return {
    stdout,
    stderr,
    stdin: (async function* () {
      if (stdinText) yield Buffer.from(stdinText);
    })(),
    env: {},
    cwd: process.cwd(),
    out: () => Buffer.concat(outChunks).toString('utf8'),
    err: () => Buffer.concat(errChunks).toString('utf8'),
  };
}
