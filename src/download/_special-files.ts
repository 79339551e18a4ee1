/** Creates device nodes and fifos; Node has no mknod, so this runs coreutils' mknod/mkfifo without a shell. */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { StargzError } from '../errors.js';

const run = promisify(execFile);

export type SpecialFileKind = 'char' | 'block' | 'fifo';

/** Makes a device or fifo at the absolute path `abs` with permission bits `mode` (no umask applied). */
export async function makeSpecialFile(
  abs: string,
  kind: SpecialFileKind,
  mode: number,
  device: { major: number; minor: number },
): Promise<void> {
  const modeArg = (mode & 0o7777).toString(8);
  const [command, args] =
    kind === 'fifo'
      ? ['mkfifo', ['-m', modeArg, '--', abs]]
      : [
          'mknod',
          ['-m', modeArg, '--', abs, kind === 'char' ? 'c' : 'b', String(device.major), String(device.minor)],
        ];
  try {
    await run(command, args, { timeout: 30_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new StargzError('E_IO', `cannot create ${kind} ${abs}: ${stderr || String(error)}`, {
      cause: error,
      details: { path: abs },
    });
  }
}
