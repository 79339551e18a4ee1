/**
 * The command line grammar (commander). It only maps words to a command name, its positional arguments,
 * its own options and the global flags, then hands them to `dispatch`; the commands live in ./commands/.
 * Nothing heavy is imported here so that `starget --help` starts fast.
 */

import { Argument, Command, Option } from 'commander';
import type { CompletionSpec, OptionSpec } from './completion/engine.js';
import { SHELLS } from './completion/scripts.js';
import { type ExplicitFlags, type GlobalFlags, parseConcurrency, parseTailSize } from './flags.js';

export type CommandName =
  | 'info'
  | 'ls'
  | 'get'
  | 'cat'
  | 'config show'
  | 'cache info'
  | 'cache prune'
  | 'completion'
  | '__complete';

export interface Invocation {
  command: CommandName;
  /** positional arguments, variadic ones flattened */
  args: string[];
  /** the command's own options */
  options: Record<string, unknown>;
  globals: GlobalFlags;
  /** global flags the user typed (not defaults) */
  explicit: ExplicitFlags;
}

export type Dispatch = (invocation: Invocation) => Promise<void>;

const PLATFORMS = [
  'linux/amd64',
  'linux/arm64',
  'linux/arm/v7',
  'linux/arm/v6',
  'linux/386',
  'linux/ppc64le',
  'linux/s390x',
  'linux/riscv64',
];

const GLOBAL_KEYS: (keyof GlobalFlags)[] = [
  'platform',
  'credential',
  'username',
  'passwordStdin',
  'plainHttp',
  'insecure',
  'concurrency',
  'progress',
  'skipVerify',
  'verbose',
  'debug',
  'json',
  'config',
  'cache',
  'tailSize',
];

function globalsOf(command: Command): { globals: GlobalFlags; explicit: ExplicitFlags } {
  let root = command;
  while (root.parent) root = root.parent;
  const all = root.opts() as Record<string, unknown>;
  const explicit = new Set<keyof GlobalFlags>();
  const globals: Record<string, unknown> = {};
  for (const key of GLOBAL_KEYS) {
    if (all[key] !== undefined) globals[key] = all[key];
    if (root.getOptionValueSource(key) === 'cli') explicit.add(key);
  }
  return { globals: globals as unknown as GlobalFlags, explicit };
}

function flattenArgs(command: Command): string[] {
  const out: string[] = [];
  for (const value of command.processedArgs as unknown[]) {
    if (Array.isArray(value)) out.push(...(value as string[]));
    else if (typeof value === 'string') out.push(value);
  }
  return out;
}

/** Builds the commander program; `dispatch` receives every parsed invocation. */
export function buildProgram(version: string, dispatch: Dispatch): Command {
  const program = new Command('starget');
  const run =
    (name: CommandName) =>
    async (...params: unknown[]): Promise<void> => {
      const command = params.at(-1) as Command;
      const { globals, explicit } = globalsOf(command);
      await dispatch({
        command: name,
        args: flattenArgs(command),
        options: command.opts(),
        globals,
        explicit,
      });
    };

  program
    .description('Get files out of eStargz container images without pulling them.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .addOption(new Option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image'))
    .addOption(new Option('--credential <user:password>', 'registry credentials (prefer --password-stdin)'))
    .addOption(new Option('--username <user>', 'registry user name, with --password-stdin'))
    .addOption(new Option('--password-stdin', 'read the registry password from stdin'))
    .addOption(new Option('--plain-http', 'talk HTTP, not HTTPS, to the registry'))
    .addOption(new Option('-k, --insecure', 'accept any TLS certificate from the registry'))
    .addOption(
      new Option('--concurrency <n>', 'parallel range requests (default 4)').argParser((v: string) =>
        parseConcurrency(v),
      ),
    )
    .addOption(new Option('--no-progress', 'no progress bar'))
    .addOption(new Option('--skip-verify', 'do not check chunk and file digests'))
    .addOption(new Option('--verbose', 'log what happens (INFO) on stderr'))
    .addOption(new Option('-d, --debug', 'log every request and step (DEBUG) on stderr; secrets are masked'))
    .addOption(new Option('--json', 'machine-readable output (and errors as JSON on stderr)'))
    .addOption(new Option('--config <file>', 'configuration file to use'))
    .addOption(new Option('--no-cache', 'do not use the local TOC and manifest cache'))
    .addOption(
      new Option('--tail-size <bytes>', 'bytes read from the end of each layer at first (tuning)')
        .argParser((v: string) => parseTailSize(v))
        .hideHelp(),
    )
    .helpCommand('help [command]', 'show help for a command');

  program
    .command('info')
    .description('show the manifest digest, platform and layers of an image (eStargz?, TOC digest)')
    .argument('<image>', 'image reference, e.g. ghcr.io/org/app:tag or localhost:5000/app@sha256:…')
    .action(run('info'));

  program
    .command('ls')
    .description('list the files of an image (the merged view of all layers, or one layer)')
    .argument('<image>', 'image reference')
    .argument('[blob-digest]', 'restrict to this layer (as --layer)')
    .argument('[patterns...]', 'files, directories, "." for everything, or globs (default: everything)')
    .option('--layer <digest>', 'restrict to this layer')
    .option('-l, --long', 'show type, mode, owner, size, mtime and link targets')
    .action(run('ls'));

  program
    .command('get')
    .description('extract files, directories or globs from an image')
    .argument('<image>', 'image reference')
    .argument('<args...>', '[BLOB_DIGEST] PATTERN [OUTPUT], or PATTERN... with -o DIR')
    .option('-o, --output <dir>', 'write matches under DIR at their path in the image')
    .option('--layer <digest>', 'restrict to this layer')
    .option('--same-owner', 'keep the uid/gid of the image (as tar does; needs root)')
    .option('-L, --dereference', 'write what symlinks lead to inside the image instead of the links')
    .option('--no-resume', 'ignore the progress an interrupted run left in the output directory')
    .addHelpText(
      'after',
      `
Forms:
  starget get IMAGE [BLOB_DIGEST] PATTERN [OUTPUT]   one pattern; a single file is written to OUTPUT
                                                     (into OUTPUT/ when it is a directory)
  starget get IMAGE PATTERN... -o DIR                 several patterns, each match at DIR/<path>
Patterns: bin/echo (a file), bin/ or bin (a directory), . or / (everything), usr/lib/**/*.so (a glob).`,
    )
    .action(run('get'));

  program
    .command('cat')
    .description('write one file of an image to stdout')
    .argument('<image>', 'image reference')
    .argument('<file>', 'path of the file in the image')
    .option('--layer <digest>', 'read the file from this layer')
    .action(run('cat'));

  const config = program.command('config').description('inspect the configuration');
  config
    .command('show')
    .description('print the effective settings and where each comes from (secrets masked)')
    .action(run('config show'));

  const cache = program.command('cache').description('inspect or empty the local TOC and manifest cache');
  cache
    .command('info')
    .description('show where the cache is and how many entries and bytes it holds')
    .action(run('cache info'));
  cache
    .command('prune')
    .description('remove cache entries not used for a while (default: 30 days), or all of them')
    .option('--all', 'remove every entry')
    .option('--older-than <age>', 'remove entries unused for this long: 30d, 12h, 90m, 2w')
    .action(run('cache prune'));

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action(run('completion'));

  program
    .command('__complete', { hidden: true })
    .description('completion candidates for the shell scripts')
    .argument('<shell>')
    .argument('[words...]')
    .helpOption(false)
    .allowUnknownOption(true)
    .action(run('__complete'));

  return program;
}

function optionSpec(option: Option, values?: OptionSpec['value']): OptionSpec {
  const names = [option.short, option.long].filter((n): n is string => typeof n === 'string');
  return {
    names,
    takesValue: option.required || option.optional,
    ...(values ? { value: values } : {}),
    description: option.description,
  };
}

const VALUE_KINDS: Record<string, OptionSpec['value']> = {
  '--platform': { values: PLATFORMS },
  '--config': { files: true },
  '--output': { files: true },
  '--layer': { layers: true },
};

/** The completion spec derived from the program itself, so flags never drift from the grammar. */
export function completionSpecOf(program: Command): CompletionSpec {
  const toSpec = (option: Option): OptionSpec => optionSpec(option, VALUE_KINDS[option.long ?? '']);
  const globalOptions = program.options.filter((o) => !o.hidden).map(toSpec);
  globalOptions.push({ names: ['-h', '--help'], takesValue: false, description: 'show help' });
  const find = (name: string): Command => program.commands.find((c) => c.name() === name)!;
  const own = (name: string): OptionSpec[] => find(name).options.map(toSpec);
  return {
    globalOptions,
    commands: [
      { name: 'info', description: find('info').description(), options: [], args: ['image', 'none'] },
      {
        name: 'ls',
        description: find('ls').description(),
        options: own('ls'),
        args: ['image', 'layer-or-path', 'image-path'],
      },
      {
        name: 'get',
        description: find('get').description(),
        options: own('get'),
        args: ['image', 'layer-or-path', 'image-path'],
        outputAfterPattern: true,
      },
      {
        name: 'cat',
        description: find('cat').description(),
        options: own('cat'),
        args: ['image', 'image-path', 'none'],
      },
      { name: 'config', description: find('config').description(), options: [], args: [['show'], 'none'] },
      {
        name: 'cache',
        description: find('cache').description(),
        options: find('cache')
          .commands.find((c) => c.name() === 'prune')!
          .options.map((o) => toSpec(o)),
        args: [['info', 'prune'], 'none'],
      },
      {
        name: 'completion',
        description: find('completion').description(),
        options: [],
        args: [SHELLS, 'none'],
      },
      {
        name: 'help',
        description: 'show help for a command',
        options: [],
        args: [['info', 'ls', 'get', 'cat', 'config', 'cache', 'completion'], 'none'],
      },
    ],
  };
}
