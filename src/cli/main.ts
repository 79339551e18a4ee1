#!/usr/bin/env node
/** The `starget` executable: wires the process (argv, streams, signals, exit code) to runCli. */

import { setFlagsFromString } from 'node:v8';

// Keep V8's young generation at its initial size. Parsing a TOC keeps almost everything it allocates, and
// V8 answers such survival by doubling the new space (to 16–32 MB of semi-spaces that stay resident), which
// was a third of a small get's peak RSS. `--max-semi-space-size` cannot be changed once the heap exists,
// but the growth factor is read whenever the new space grows; a factor of 1 leaves it at its initial size.
setFlagsFromString('--semi-space-growth-factor=1');

const { runCli } = await import('./cli.js');
const { processIO } = await import('./io.js');

const controller = new AbortController();
let interrupted = 0;
const onSignal = (name: 'SIGINT' | 'SIGTERM'): void => {
  interrupted++;
  if (interrupted > 1) process.exit(name === 'SIGINT' ? 130 : 143);
  controller.abort(name);
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
// `starget ls IMAGE | head`: a closed pipe is not an error worth a message.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await runCli(process.argv.slice(2), { io: processIO(), signal: controller.signal });
process.exitCode = code;
