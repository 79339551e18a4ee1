/** `starget completion bash|zsh|fish`: prints the script that wires the shell to `starget __complete`. */

import { StargzError } from '../../errors.js';
import { completionScript, SHELLS, type Shell } from '../completion/scripts.js';
import { type CliIO, writeOut } from '../io.js';

export async function runCompletion(args: string[], io: CliIO): Promise<void> {
  const shell = args[0] as Shell;
  if (!SHELLS.includes(shell)) {
    throw new StargzError(
      'E_USAGE',
      `no completion for shell ${JSON.stringify(args[0])}: use bash, zsh or fish`,
    );
  }
  await writeOut(io.stdout, completionScript(shell));
}
