import { join } from 'node:path';
import { StargzError } from '../errors.js';
import type { StargetConfig } from './parse.js';
import type { RawDefaults } from './schema.js';
import { PLATFORM_PATTERN, parseDuration } from './value-formats.js';

/** The settings every command shares, after flags, environment, config file and defaults are merged. */
export interface Settings {
  concurrency: number;
  maxRetries: number;
  noProgress: boolean;
  /** `os/arch[/variant]` */
  platform: string;
  plainHttp: boolean;
  insecure: boolean;
  cacheDir: string;
  /** per-request timeout in milliseconds */
  timeoutMs: number;
  verbose: boolean;
  debug: boolean;
}

export type SettingName = keyof Settings;

/** Where a value came from: a flag, an environment variable, the config file at a path, or the default. */
export type SettingSource = 'flag' | 'env' | `file:${string}` | 'default';

export interface SourcedValue<T> {
  value: T;
  source: SettingSource;
  /** the variable (`STARGET_CONCURRENCY`) or `file:line` that set it, when not a flag or default */
  origin?: string;
}

/** Every setting with its value and where it came from (for `starget config show`). */
export type EffectiveSettings = { [K in SettingName]: SourcedValue<Settings[K]> };

interface SettingSpec<K extends SettingName> {
  fileKey: keyof RawDefaults;
  env: string;
  fromEnv: (text: string) => Settings[K] | undefined;
  fromFile: (value: NonNullable<RawDefaults[keyof RawDefaults]>) => Settings[K];
}

const asInt = (min: number, max: number) => (text: string) => {
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
};
const asBool = (text: string): boolean | undefined => {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  return undefined;
};
const same = <T>(value: unknown) => value as T;

/** The file key and environment variable of each setting. */
export const SETTING_SPECS: { [K in SettingName]: SettingSpec<K> } = {
  concurrency: { fileKey: 'concurrency', env: 'STARGET_CONCURRENCY', fromEnv: asInt(1, 64), fromFile: same },
  maxRetries: { fileKey: 'max_retries', env: 'STARGET_MAX_RETRIES', fromEnv: asInt(0, 20), fromFile: same },
  noProgress: { fileKey: 'no_progress', env: 'STARGET_NO_PROGRESS', fromEnv: asBool, fromFile: same },
  platform: {
    fileKey: 'platform',
    env: 'STARGET_PLATFORM',
    fromEnv: (t) => (PLATFORM_PATTERN.test(t.trim()) ? t.trim() : undefined),
    fromFile: same,
  },
  plainHttp: { fileKey: 'plain_http', env: 'STARGET_PLAIN_HTTP', fromEnv: asBool, fromFile: same },
  insecure: { fileKey: 'insecure', env: 'STARGET_INSECURE', fromEnv: asBool, fromFile: same },
  cacheDir: { fileKey: 'cache_dir', env: 'STARGET_CACHE_DIR', fromEnv: (t) => t, fromFile: same },
  timeoutMs: {
    fileKey: 'timeout',
    env: 'STARGET_TIMEOUT',
    fromEnv: (t) => parseDuration(t),
    fromFile: (v) => parseDuration(v as string | number)!,
  },
  verbose: { fileKey: 'verbose', env: 'STARGET_VERBOSE', fromEnv: asBool, fromFile: same },
  debug: { fileKey: 'debug', env: 'STARGET_DEBUG', fromEnv: asBool, fromFile: same },
};

const ENV_HINTS: Partial<Record<SettingName, string>> = {
  concurrency: 'a whole number from 1 to 64',
  maxRetries: 'a whole number from 0 to 20',
  platform: 'os/arch[/variant], e.g. linux/amd64',
  timeoutMs: 'a duration such as 30s, 500ms or 2m',
};

/** The architecture name images use for a Node `process.arch`. */
export function hostPlatform(arch: string): string {
  switch (arch) {
    case 'x64':
      return 'linux/amd64';
    case 'arm64':
      return 'linux/arm64';
    case 'arm':
      return 'linux/arm/v7';
    case 'ia32':
      return 'linux/386';
    case 'ppc64':
      return 'linux/ppc64le';
    case 's390x':
    case 'riscv64':
      return `linux/${arch}`;
    default:
      return 'linux/amd64';
  }
}

/** Built-in defaults; the platform follows the host's architecture, the cache the XDG cache dir. */
export function defaultSettings(options: {
  env: Record<string, string | undefined>;
  homedir: string;
  arch?: string;
}): Settings {
  return {
    concurrency: 4,
    maxRetries: 3,
    noProgress: false,
    platform: hostPlatform(options.arch ?? 'x64'),
    plainHttp: false,
    insecure: false,
    cacheDir: join(options.env.XDG_CACHE_HOME || join(options.homedir, '.cache'), 'starget'),
    timeoutMs: 30_000,
    verbose: false,
    debug: false,
  };
}

export interface ResolveSettingsOptions {
  /** values given on the command line (undefined = not given) */
  flags?: Partial<Settings>;
  env: Record<string, string | undefined>;
  /** the loaded config file (its `defaults` section is used) */
  config?: StargetConfig;
  defaults: Settings;
}

/**
 * Merges flags > environment (`STARGET_*`) > config file > defaults, recording where each value came from.
 * An environment value that does not parse is E_CONFIG naming the variable.
 */
export function resolveSettings(options: ResolveSettingsOptions): EffectiveSettings {
  const out: Partial<Record<SettingName, SourcedValue<unknown>>> = {};
  for (const name of Object.keys(SETTING_SPECS) as SettingName[]) {
    out[name] = resolveOne(name, options);
  }
  return out as EffectiveSettings;
}

function resolveOne(name: SettingName, options: ResolveSettingsOptions): SourcedValue<unknown> {
  const flag = options.flags?.[name];
  if (flag !== undefined) return { value: flag, source: 'flag' };
  const spec = SETTING_SPECS[name];
  const text = options.env[spec.env];
  if (text !== undefined && text.trim() !== '') {
    const value = spec.fromEnv(text);
    if (value === undefined) {
      const hint = ENV_HINTS[name] ?? 'true/false, 1/0, yes/no or on/off';
      throw new StargzError(
        'E_CONFIG',
        `environment variable ${spec.env}="${text}" is not valid: expected ${hint}`,
        {
          details: { variable: spec.env },
        },
      );
    }
    return { value, source: 'env', origin: spec.env };
  }
  const file = options.config;
  const fromFile = file?.defaults[name];
  if (file?.path !== undefined && fromFile !== undefined) {
    const line = file.defaultLines[name];
    return {
      value: fromFile,
      source: `file:${file.path}`,
      ...(line === undefined ? {} : { origin: `${file.path}:${line}` }),
    };
  }
  return { value: options.defaults[name], source: 'default' };
}

/** Just the values of effective settings. */
export function settingValues(effective: EffectiveSettings): Settings {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const [name, sourced] of Object.entries(effective)) out[name as SettingName] = sourced.value;
  return out as Settings;
}
