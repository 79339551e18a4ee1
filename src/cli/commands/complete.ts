/**
 * `starget __complete SHELL -- …`: the hidden command the completion scripts call.
 * bash passes its current word piece and the line up to the cursor; zsh and fish pass the words.
 * Prints a directive line (`values` or `files`) and one candidate per line. Never fails loudly: any
 * problem (no network, wrong image, timeout) gives no candidates.
 */

import { silentLogger } from '../../log.js';
import { complete, type ImageListing, type ParsedFlags } from '../completion/engine.js';
import { SHELLS, type Shell } from '../completion/scripts.js';
import { bashReplacement, splitShellWords } from '../completion/shell-words.js';
import type { GlobalFlags } from '../flags.js';
import { isLayerDigest } from '../get-args.js';
import type { CliIO } from '../io.js';
import { buildProgram, completionSpecOf } from '../program.js';
import { createSession, openSessionImage } from '../session.js';

/** How long dynamic completion may take to reach the registry. */
export const COMPLETION_TIMEOUT_MS = 3000;

/** The global flags a completion line carries, as the commands would see them. */
function globalsFromLine(flags: ParsedFlags): { globals: GlobalFlags; explicit: Set<keyof GlobalFlags> } {
  const globals: GlobalFlags = { progress: false, cache: flags['no-cache'] !== true };
  const explicit = new Set<keyof GlobalFlags>();
  const text = (name: string): string | undefined =>
    typeof flags[name] === 'string' ? (flags[name] as string) : undefined;
  if (text('platform')) {
    globals.platform = text('platform')!;
    explicit.add('platform');
  }
  if (text('credential')) globals.credential = text('credential')!;
  if (text('config')) globals.config = text('config')!;
  if (flags['plain-http']) {
    globals.plainHttp = true;
    explicit.add('plainHttp');
  }
  if (flags.insecure) {
    globals.insecure = true;
    explicit.add('insecure');
  }
  return { globals, explicit };
}

export async function runComplete(args: string[], io: CliIO, signal: AbortSignal): Promise<void> {
  const [shellName, ...rest] = args;
  const shell = (SHELLS as readonly string[]).includes(shellName ?? '') ? (shellName as Shell) : 'zsh';
  let words: string[];
  let bash: { raw: string; openQuote: '"' | "'" | null; openQuoteAt: number; bashPiece: string } | undefined;
  if (shell === 'bash') {
    const [piece = '', line = ''] = rest;
    const split = splitShellWords(line);
    words = split.words.slice(1);
    bash = {
      raw: split.currentRaw,
      openQuote: split.openQuote,
      openQuoteAt: split.openQuoteAt,
      bashPiece: piece,
    };
  } else if (shell === 'fish') {
    // fish passes the finished tokens unescaped and the current token as typed
    const current = rest.at(-1) ?? '';
    words = [...rest.slice(0, -1), splitShellWords(current).words.at(-1) ?? ''];
  } else {
    words = rest.length === 0 ? [''] : rest;
  }
  const spec = completionSpecOf(buildProgram('0.0.0', async () => {}));
  const timeout = AbortSignal.timeout(COMPLETION_TIMEOUT_MS);
  const completionSignal = AbortSignal.any([signal, timeout]);
  const cache = new Map<string, Promise<ImageListing>>();
  const source = (image: string, flags: ParsedFlags): Promise<ImageListing> => {
    const layer =
      typeof flags.layer === 'string' ? flags.layer : words.find((w, i) => i > 0 && isLayerDigest(w));
    const key = JSON.stringify([image, flags, layer]);
    let listing = cache.get(key);
    if (!listing) {
      listing = (async () => {
        const { globals, explicit } = globalsFromLine(flags);
        const session = await createSession(
          globals,
          explicit,
          { ...io, stderr: nullStream(io) },
          completionSignal,
        );
        const opened = await openSessionImage(session, image, {
          timeoutMs: COMPLETION_TIMEOUT_MS,
          maxRetries: 0,
          logger: silentLogger,
          ...(layer !== undefined ? { layer } : {}),
        });
        try {
          const layers = opened.layers.map((l) => l.digest);
          const index = await opened.index();
          return { layers, paths: index.entries().map((e) => ({ path: e.path, dir: e.type === 'dir' })) };
        } finally {
          await opened.close();
        }
      })();
      cache.set(key, listing);
    }
    return listing;
  };
  let result: Awaited<ReturnType<typeof complete>>;
  try {
    result = await complete(spec, words, source);
  } catch {
    result = { directive: 'values', candidates: [] };
  }
  const lines: string[] = [result.directive];
  for (const candidate of result.candidates) {
    if (candidate.value.includes('\n')) continue;
    if (bash) {
      const replacement = bashReplacement(candidate.value, bash);
      if (replacement !== undefined) lines.push(replacement);
    } else if (shell === 'fish' && candidate.description) {
      lines.push(`${candidate.value}\t${candidate.description}`);
    } else {
      lines.push(candidate.value);
    }
  }
  io.stdout.write(`${lines.join('\n')}\n`);
}

function nullStream(io: CliIO): CliIO['stderr'] {
  const stream = Object.create(io.stderr) as CliIO['stderr'];
  stream.write = (() => true) as CliIO['stderr']['write'];
  return stream;
}
