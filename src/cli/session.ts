/**
 * What every image command shares: the effective settings (flags > env > config file > defaults), the
 * stderr logger behind the redacting logger, the credential chain, and opening the image with them.
 */

import { homedir } from 'node:os';
import {
  type EffectiveSettings,
  loadConfig,
  resolveSettings,
  type Settings,
  settingValues,
} from '../config/index.js';
import type { StargetConfig } from '../config/parse.js';
import { settingsForRegistry } from '../config/registries.js';
import { defaultSettings } from '../config/settings.js';
import { defaultCredentials } from '../credentials/index.js';
import type { Logger } from '../log.js';
import { RedactingLogger } from '../redact.js';
import { parseReference } from '../registry/reference.js';
import type { ProxySettings } from '../registry/transport.js';
import type { StargetImage } from '../starget.js';
import {
  checkCredentialFlags,
  type ExplicitFlags,
  type GlobalFlags,
  parseCredentialFlag,
  readPasswordFromStdin,
} from './flags.js';
import type { CliIO } from './io.js';
import { createStderrLogger, logLevelFor } from './logger.js';

export interface Session {
  io: CliIO;
  globals: GlobalFlags;
  settings: Settings;
  effective: EffectiveSettings;
  config: StargetConfig;
  logger: RedactingLogger;
  signal: AbortSignal;
  /** called before a log line is written (the progress bar clears itself) */
  setBeforeLog(hook: (() => void) | undefined): void;
}

/** The settings the command line sets explicitly, in the config module's names. */
export function flagSettings(globals: GlobalFlags, explicit: ExplicitFlags): Partial<Settings> {
  const out: Partial<Settings> = {};
  if (explicit.has('concurrency') && globals.concurrency !== undefined) out.concurrency = globals.concurrency;
  if (explicit.has('progress') && globals.progress === false) out.noProgress = true;
  if (explicit.has('platform') && globals.platform !== undefined) out.platform = globals.platform;
  if (explicit.has('plainHttp') && globals.plainHttp) out.plainHttp = true;
  if (explicit.has('insecure') && globals.insecure) out.insecure = true;
  if (explicit.has('verbose') && globals.verbose) out.verbose = true;
  if (explicit.has('debug') && globals.debug) out.debug = true;
  return out;
}

/** Loads the config and settings and builds the logger. Config problems are E_CONFIG (exit 2). */
export async function createSession(
  globals: GlobalFlags,
  explicit: ExplicitFlags,
  io: CliIO,
  signal: AbortSignal,
): Promise<Session> {
  checkCredentialFlags(globals);
  const home = io.env.HOME || homedir();
  const loaded = await loadConfig({
    ...(globals.config !== undefined ? { argvConfigPath: globals.config } : {}),
    env: io.env,
    homedir: home,
    cwd: io.cwd,
  });
  const effective = resolveSettings({
    flags: flagSettings(globals, explicit),
    env: io.env,
    config: loaded.config,
    defaults: defaultSettings({ env: io.env, homedir: home, arch: process.arch }),
  });
  const settings = settingValues(effective);
  let beforeLog: (() => void) | undefined;
  const inner = createStderrLogger({
    level: logLevelFor({ verbose: settings.verbose, debug: settings.debug }),
    write: (line) => io.stderr.write(line),
    beforeWrite: () => beforeLog?.(),
  });
  const secrets = loaded.config.registries.map((r) => r.password).filter((p): p is string => !!p);
  const logger = new RedactingLogger(inner, secrets);
  if (globals.credential !== undefined) logger.addSecret(parseCredentialFlag(globals.credential).password);
  for (const warning of loaded.warnings) logger.warn(warning);
  if (loaded.config.path) logger.debug('config file', { path: loaded.config.path });
  return {
    io,
    globals,
    settings,
    effective,
    config: loaded.config,
    logger,
    signal,
    setBeforeLog: (hook) => {
      beforeLog = hook;
    },
  };
}

/** Opens the image named on the command line with the session's settings and credentials. */
export async function openSessionImage(
  session: Session,
  reference: string,
  options: { layer?: string; timeoutMs?: number; maxRetries?: number; logger?: Logger } = {},
): Promise<StargetImage> {
  const { globals, settings, logger, io } = session;
  const parsed = parseReference(reference);
  let flagCredential: { username: string; password: string } | undefined;
  if (globals.credential !== undefined) flagCredential = parseCredentialFlag(globals.credential);
  if (globals.username && globals.passwordStdin) {
    const password = await readPasswordFromStdin(io.stdin);
    logger.addSecret(password);
    flagCredential = { username: globals.username, password };
  }
  const credentials = defaultCredentials({
    ...(flagCredential ? { flagCredential } : {}),
    config: session.config,
    env: io.env,
    homedir: io.env.HOME || homedir(),
    onLookup: (event) => logger.debug('credentials', { ...event }),
  });
  const registry = settingsForRegistry(session.effective, session.config, parsed.registry);
  logger.debug('registry settings', {
    registry: parsed.registry,
    plainHttp: registry.plainHttp.value,
    plainHttpSource: registry.plainHttp.source,
    insecure: registry.insecure.value,
  });
  // loaded here, not at the top: commands without an image (cache, config) need not load the registry client
  const { openImage } = await import('../starget.js');
  return openImage(parsed, {
    platform: settings.platform,
    // a platform the user named (flag, env, file) must be what a single-platform image is
    ...(session.effective.platform.source !== 'default' ? { requirePlatform: true } : {}),
    credentials,
    // left unset, the client talks plain HTTP to loopback registries only
    ...(registry.plainHttp.source !== 'default' ? { plainHttp: registry.plainHttp.value } : {}),
    ...(registry.insecure.value ? { insecure: true } : {}),
    ...proxyFromEnv(io.env),
    retry: { maxRetries: options.maxRetries ?? settings.maxRetries },
    timeoutMs: options.timeoutMs ?? settings.timeoutMs,
    logger: options.logger ?? logger,
    signal: session.signal,
    ...(options.layer !== undefined ? { layer: options.layer } : {}),
    cache: globals.cache === false ? false : settings.cacheDir,
    ...(globals.tailSize !== undefined ? { tailSize: globals.tailSize } : {}),
  });
}

/** The proxies the environment names, as curl and docker read them (lower case wins). */
export function proxyFromEnv(env: Record<string, string | undefined>): { proxy?: ProxySettings } {
  const pick = (name: string) => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const httpProxy = pick('http_proxy');
  const httpsProxy = pick('https_proxy');
  if (!httpProxy && !httpsProxy) return {};
  const noProxy = pick('no_proxy');
  return {
    proxy: {
      ...(httpProxy ? { httpProxy } : {}),
      ...(httpsProxy ? { httpsProxy } : {}),
      ...(noProxy ? { noProxy } : {}),
    },
  };
}
