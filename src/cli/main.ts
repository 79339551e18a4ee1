#!/usr/bin/env node
/** The `starget` executable: wires the process (argv, streams, signals, exit code) to runCli. */

import { runCli } from './cli.js';
import { processIO } from './io.js';

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
