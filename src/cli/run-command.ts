/** Runs one parsed invocation: loads only the module of that command (and the library only when needed). */

import type { GetCommandOptions } from './commands/get.js';
import type { CliIO } from './io.js';
import type { Invocation } from './program.js';

export async function runCommand(invocation: Invocation, io: CliIO, signal: AbortSignal): Promise<void> {
  const { command, args, options, globals, explicit } = invocation;
  if (command === 'completion') {
    const { runCompletion } = await import('./commands/completion.js');
    return runCompletion(args, io);
  }
  if (command === '__complete') {
    const { runComplete } = await import('./commands/complete.js');
    return runComplete(args, io, signal);
  }
  const { createSession } = await import('./session.js');
  const session = await createSession(globals, explicit, io, signal);
  switch (command) {
    case 'info': {
      const { runInfo } = await import('./commands/info.js');
      return runInfo(session, args);
    }
    case 'ls': {
      const { runLs } = await import('./commands/ls.js');
      return runLs(session, args, options as { layer?: string; long?: boolean });
    }
    case 'get': {
      const { runGet } = await import('./commands/get.js');
      return runGet(session, args, options as GetCommandOptions);
    }
    case 'cat': {
      const { runCat } = await import('./commands/cat.js');
      return runCat(session, args, options as { layer?: string });
    }
    case 'cache info':
    case 'cache prune': {
      const { runCacheInfo, runCachePrune } = await import('./commands/cache.js');
      return command === 'cache info'
        ? runCacheInfo(session)
        : runCachePrune(session, options as { all?: boolean; olderThan?: string });
    }
    case 'config show': {
      const { runConfigShow } = await import('./commands/config-show.js');
      return runConfigShow(session);
    }
  }
}
