import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StargzError } from '../errors.js';
import { EMPTY_CONFIG, type StargetConfig } from './types.js';

/** Where a config file path came from. */
export type ConfigOrigin = 'flag' | 'env' | 'xdg' | 'legacy';

export interface ConfigCandidate {
  path: string;
  origin: ConfigOrigin;
  /** named explicitly (`--config`, `$STARGET_CONFIG`): missing is an error */
  required: boolean;
}

export interface LoadConfigOptions {
  /** `--config FILE` */
  argvConfigPath?: string;
  /** the environment to read `STARGET_CONFIG` and `XDG_CONFIG_HOME` from */
  env: Record<string, string | undefined>;
  homedir: string;
  /** base for a relative `--config` / `$STARGET_CONFIG` (default: the process's working directory) */
  cwd?: string;
}

export interface LoadedConfig {
  config: StargetConfig;
  origin?: ConfigOrigin;
  /** things the user should hear about (a readable password file, an ignored legacy file); not printed here */
  warnings: string[];
}

/**
 * The config files to try, in order: `--config FILE`, else `$STARGET_CONFIG`, else
 * `$XDG_CONFIG_HOME/starget/config.yaml` (default `~/.config/starget/config.yaml`) then the original
 * tool's `~/.stargz-get/config.yaml`.
 */
export function configFileCandidates(options: LoadConfigOptions): ConfigCandidate[] {
  const cwd = options.cwd ?? process.cwd();
  if (options.argvConfigPath) {
    return [{ path: resolve(cwd, options.argvConfigPath), origin: 'flag', required: true }];
  }
  const fromEnv = options.env.STARGET_CONFIG;
  if (fromEnv) return [{ path: resolve(cwd, fromEnv), origin: 'env', required: true }];
  const xdg = options.env.XDG_CONFIG_HOME || join(options.homedir, '.config');
  return [
    { path: join(xdg, 'starget', 'config.yaml'), origin: 'xdg', required: false },
    { path: join(options.homedir, '.stargz-get', 'config.yaml'), origin: 'legacy', required: false },
  ];
}

/**
 * Finds, reads and validates the config file. No file is an empty config; a file named by `--config` or
 * `$STARGET_CONFIG` that does not exist, and any invalid file, is E_CONFIG. A password in a file that group
 * or others can read gives a warning.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const candidates = configFileCandidates(options);
  const warnings: string[] = [];
  for (const [index, candidate] of candidates.entries()) {
    const text = await readIfPresent(candidate);
    if (text === undefined) continue;
    // yaml and zod load only when there is a file to parse (about 10 MB and 80 ms of every run otherwise).
    const { parseConfigText } = await import('./parse.js');
    const config = parseConfigText(text, candidate.path);
    if (config.defaults.cacheDir !== undefined) {
      config.defaults.cacheDir = expandHome(config.defaults.cacheDir, options.homedir);
    }
    for (const later of candidates.slice(index + 1)) {
      if ((await readIfPresent(later)) !== undefined) {
        warnings.push(
          `ignoring ${later.path}: ${candidate.path} is used instead (merge them and remove one)`,
        );
      }
    }
    if (config.registries.some((r) => r.password !== undefined)) {
      const mode = (await stat(candidate.path)).mode;
      if ((mode & 0o044) !== 0) {
        warnings.push(
          `${candidate.path} holds a password and can be read by other users: run chmod 600 ${candidate.path}`,
        );
      }
    }
    return { config, origin: candidate.origin, warnings };
  }
  return { config: { ...EMPTY_CONFIG }, warnings };
}

async function readIfPresent(candidate: ConfigCandidate): Promise<string | undefined> {
  try {
    return await readFile(candidate.path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !candidate.required) return undefined;
    const from =
      candidate.origin === 'flag'
        ? ' (from --config)'
        : candidate.origin === 'env'
          ? ' (from $STARGET_CONFIG)'
          : '';
    const what =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code})`;
    throw new StargzError('E_CONFIG', `config file ${candidate.path}${from} ${what}`, {
      cause: error,
      details: { path: candidate.path },
    });
  }
}

function expandHome(path: string, homedir: string): string {
  if (path === '~') return homedir;
  if (path.startsWith('~/')) return join(homedir, path.slice(2));
  return path;
}
