/** Runs one parsed invocation: loads only the module of that command. */

import { StargzError } from '../errors.js';
import type { CliIO } from './io.js';
import type { Invocation } from './program.js';

export async function runCommand(invocation: Invocation, io: CliIO, signal: AbortSignal): Promise<void> {
  switch (invocation.command) {
    case 'completion': {
      const { runCompletion } = await import('./commands/completion.js');
      return runCompletion(invocation.args, io);
    }
    default:
      void signal;
      throw new StargzError('E_INTERNAL', `command ${invocation.command} is not wired yet`);
  }
}
