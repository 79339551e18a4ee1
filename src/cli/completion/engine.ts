/**
 * The completion engine behind `starget __complete`: given the words typed after `starget` (the last one is
 * the word under the cursor), it finds subcommands, flags, flag values and paths inside the image. Pure apart
 * from the `source` callback that lists an image.
 */

export interface OptionSpec {
  /** every spelling: ['-k', '--insecure'] */
  names: string[];
  takesValue: boolean;
  /** what the value is: fixed values, a local file, or a layer digest of the image */
  value?: { values?: readonly string[]; files?: boolean; layers?: boolean };
  description?: string;
}

/** What a positional argument is, for completion. */
export type ArgumentKind =
  | 'image'
  | 'image-path'
  | 'layer-or-path'
  | 'local-path'
  | 'none'
  | readonly string[];

export interface CommandSpec {
  name: string;
  description?: string;
  options: OptionSpec[];
  /** kinds of the positional arguments in order; the last repeats */
  args: ArgumentKind[];
  /** get: without -o, the argument after the first pattern is the local OUTPUT */
  outputAfterPattern?: boolean;
}

export interface CompletionSpec {
  globalOptions: OptionSpec[];
  commands: CommandSpec[];
}

/** What the image holds, for path completion. */
export interface ImageListing {
  paths: { path: string; dir: boolean }[];
  layers: string[];
}

export type ImageSource = (image: string, flags: ParsedFlags) => Promise<ImageListing>;

/** Flags seen on the line, by long name without dashes: { platform: 'linux/arm64', 'plain-http': true }. */
export type ParsedFlags = Record<string, string | boolean>;

export interface CompletionResult {
  /** 'files': let the shell complete local file names; 'values': exactly these candidates */
  directive: 'values' | 'files';
  candidates: { value: string; description?: string }[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function findOption(options: OptionSpec[], name: string): OptionSpec | undefined {
  return options.find((o) => o.names.includes(name));
}

function longName(option: OptionSpec): string {
  const long = option.names.find((n) => n.startsWith('--')) ?? option.names[0]!;
  return long.replace(/^-+/, '');
}

interface LineState {
  command?: CommandSpec;
  unknownCommand: boolean;
  positionals: string[];
  flags: ParsedFlags;
  /** the option whose value the current word is */
  pendingValue?: OptionSpec;
  afterDoubleDash: boolean;
}

/** Walks the complete words (all but the current one) and records the command, flags and positionals. */
function readLine(spec: CompletionSpec, words: string[]): LineState {
  const state: LineState = { unknownCommand: false, positionals: [], flags: {}, afterDoubleDash: false };
  const options = (): OptionSpec[] => [...spec.globalOptions, ...(state.command?.options ?? [])];
  for (const word of words) {
    if (state.pendingValue) {
      state.flags[longName(state.pendingValue)] = word;
      state.pendingValue = undefined;
      continue;
    }
    if (!state.afterDoubleDash && word === '--') {
      state.afterDoubleDash = true;
      continue;
    }
    if (!state.afterDoubleDash && word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq === -1 ? word : word.slice(0, eq);
      const option = findOption(options(), name);
      if (option?.takesValue && eq === -1) state.pendingValue = option;
      else if (option) state.flags[longName(option)] = eq === -1 ? true : word.slice(eq + 1);
      continue;
    }
    if (!state.afterDoubleDash && word.startsWith('-') && word.length > 1) {
      // short flags, possibly grouped: -kd, -o DIR, -oDIR
      for (let i = 1; i < word.length; i++) {
        const option = findOption(options(), `-${word[i]}`);
        if (!option) break;
        if (option.takesValue) {
          if (i + 1 < word.length) state.flags[longName(option)] = word.slice(i + 1);
          else state.pendingValue = option;
          break;
        }
        state.flags[longName(option)] = true;
      }
      continue;
    }
    if (!state.command && !state.unknownCommand) {
      state.command = spec.commands.find((c) => c.name === word);
      if (!state.command) state.unknownCommand = true;
      continue;
    }
    state.positionals.push(word);
  }
  return state;
}

function optionCandidates(options: OptionSpec[], prefix: string): CompletionResult {
  const candidates: CompletionResult['candidates'] = [];
  for (const option of options) {
    for (const name of option.names) {
      if (name.startsWith('--') && name.startsWith(prefix)) {
        candidates.push({ value: name, ...(option.description ? { description: option.description } : {}) });
      }
    }
  }
  if (candidates.length === 0) {
    for (const option of options) {
      const short = option.names.find((n) => !n.startsWith('--'));
      if (short?.startsWith(prefix)) {
        candidates.push({ value: short, ...(option.description ? { description: option.description } : {}) });
      }
    }
  }
  return { directive: 'values', candidates };
}

function fixed(values: readonly string[], prefix: string, valuePrefix = ''): CompletionResult {
  return {
    directive: 'values',
    candidates: values.filter((v) => v.startsWith(prefix)).map((v) => ({ value: valuePrefix + v })),
  };
}

const NONE: CompletionResult = { directive: 'values', candidates: [] };
const FILES: CompletionResult = { directive: 'files', candidates: [] };

/**
 * Paths directly inside the directory part of `prefix` whose names start with the rest of it;
 * directories end with '/'. A leading '/' typed by the user is kept.
 */
export function completeImagePath(paths: ImageListing['paths'], prefix: string): string[] {
  const slash = prefix.startsWith('/') ? '/' : '';
  const wanted = prefix.replace(/^\/+/, '');
  const cut = wanted.lastIndexOf('/');
  const dir = cut === -1 ? '' : wanted.slice(0, cut + 1);
  const out = new Set<string>();
  for (const { path, dir: isDir } of paths) {
    const clean = path.replace(/^\/+/, '');
    if (!clean.startsWith(wanted) || !clean.startsWith(dir)) continue;
    const rest = clean.slice(dir.length);
    const next = rest.indexOf('/');
    if (next !== -1) out.add(`${slash}${dir}${rest.slice(0, next)}/`);
    else if (rest !== '') out.add(`${slash}${dir}${rest}${isDir ? '/' : ''}`);
  }
  return [...out].sort();
}

async function valueCandidates(
  option: OptionSpec,
  prefix: string,
  state: LineState,
  source: ImageSource,
  valuePrefix = '',
): Promise<CompletionResult> {
  if (option.value?.values) return fixed(option.value.values, prefix, valuePrefix);
  if (option.value?.files) return FILES;
  if (option.value?.layers) {
    const image = state.positionals[0];
    if (!image) return NONE;
    const listing = await source(image, state.flags);
    return fixed(listing.layers, prefix, valuePrefix);
  }
  return NONE;
}

/** Completes the last word of `words` (the words after `starget`). */
export async function complete(
  spec: CompletionSpec,
  words: string[],
  source: ImageSource,
): Promise<CompletionResult> {
  const current = words.at(-1) ?? '';
  const state = readLine(spec, words.slice(0, -1));
  const options = [...spec.globalOptions, ...(state.command?.options ?? [])];
  if (state.pendingValue) return valueCandidates(state.pendingValue, current, state, source);
  if (!state.afterDoubleDash && current.startsWith('--') && current.includes('=')) {
    const eq = current.indexOf('=');
    const option = findOption(options, current.slice(0, eq));
    if (!option?.takesValue) return NONE;
    return valueCandidates(option, current.slice(eq + 1), state, source, current.slice(0, eq + 1));
  }
  if (!state.afterDoubleDash && current.startsWith('-')) return optionCandidates(options, current);
  if (state.unknownCommand) return NONE;
  if (!state.command) {
    return {
      directive: 'values',
      candidates: spec.commands
        .filter((c) => c.name.startsWith(current))
        .map((c) => ({ value: c.name, ...(c.description ? { description: c.description } : {}) })),
    };
  }
  const command = state.command;
  let index = state.positionals.length;
  let kind = command.args[Math.min(index, command.args.length - 1)] ?? 'none';
  if (command.args.length === 0) return NONE;
  // a positional BLOB_DIGEST shifts the path arguments by one
  if (index >= 2 && DIGEST.test(state.positionals[1] ?? '') && command.args[1] === 'layer-or-path') {
    index -= 1;
    kind = command.args[Math.min(index, command.args.length - 1)] ?? 'none';
    if (kind === 'layer-or-path') kind = 'image-path';
  }
  if (command.outputAfterPattern && index >= 2 && state.flags.output === undefined) {
    return index === 2 ? FILES : NONE;
  }
  if (kind === 'none' || kind === 'image') return NONE;
  if (kind === 'local-path') return FILES;
  if (Array.isArray(kind)) return fixed(kind, current);
  const image = state.positionals[0];
  if (!image) return NONE;
  const listing = await source(image, state.flags);
  const values = completeImagePath(listing.paths, current);
  if (
    kind === 'layer-or-path' &&
    (current === '' || 'sha256:'.startsWith(current) || current.startsWith('sha256:'))
  ) {
    values.unshift(...listing.layers.filter((d) => d.startsWith(current)));
  }
  return { directive: 'values', candidates: values.map((value) => ({ value })) };
}
