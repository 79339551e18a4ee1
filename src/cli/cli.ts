/**
 * Runs one command line: parses it, runs the command, renders a failure, and returns the exit code.
 * It never calls process.exit, so tests can run it in-process.
 */

import { readFileSync } from 'node:fs';
import { type Command, CommanderError } from 'commander';
import { EXIT_CODES } from '../errors.js';
import { renderError } from './error-output.js';
import type { CliIO } from './io.js';
import { buildProgram, type Dispatch } from './program.js';

/** The package version, read once from package.json next to src/ or dist/. */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface RunOptions {
  io: CliIO;
  /** aborted on SIGINT/SIGTERM; `reason` tells which */
  signal?: AbortSignal;
  /** replaces the real command runner (tests of the grammar) */
  dispatch?: Dispatch;
}

/** Runs `starget <argv…>` and resolves to the process exit code. */
export async function runCli(argv: string[], options: RunOptions): Promise<number> {
  const { io } = options;
  const json = argv.includes('--json');
  const signal = options.signal ?? new AbortController().signal;
  const dispatch: Dispatch =
    options.dispatch ??
    (async (invocation) => {
      const { runCommand } = await import('./run-command.js');
      await runCommand(invocation, io, signal);
    });
  const program = buildProgram(packageVersion(), dispatch);
  const output = {
    writeOut: (text: string) => io.stdout.write(text),
    writeErr: (text: string) => io.stderr.write(text),
    outputError: (text: string, write: (text: string) => void) => {
      if (!json) write(text.startsWith('error:') ? `starget: ${text}` : text);
    },
  };
  const configure = (command: Command): void => {
    command.exitOverride();
    command.configureOutput(output);
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
        return EXIT_CODES.ok;
      if (error.code === 'commander.help' && error.exitCode === 0) return EXIT_CODES.ok;
      if (json) {
        const message = error.message.replace(/^error: /, '');
        io.stderr.write(
          `${JSON.stringify({ error: { code: 'E_USAGE', message, details: { commander: error.code }, exitCode: EXIT_CODES.usage } })}\n`,
        );
      }
      return EXIT_CODES.usage;
    }
    const reason = signal.aborted ? (signal.reason as unknown) : undefined;
    const interrupt = reason === 'SIGINT' || reason === 'SIGTERM' ? reason : undefined;
    const rendered = renderError(error, { json, ...(interrupt ? { interrupt } : {}) });
    io.stderr.write(rendered.text);
    return interrupt && rendered.exitCode !== EXIT_CODES.sigint && rendered.exitCode !== EXIT_CODES.sigterm
      ? interrupt === 'SIGINT'
        ? EXIT_CODES.sigint
        : EXIT_CODES.sigterm
      : rendered.exitCode;
  }
}
