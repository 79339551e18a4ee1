import { canonicalHost } from '../credentials/registry-host.js';
import type { RegistryConfig, StargetConfig } from './parse.js';
import type { AuthType } from './schema.js';
import type { EffectiveSettings, SourcedValue } from './settings.js';

/** The config file's entry for a registry host (Docker Hub aliases and case folded), if any. */
export function findRegistryConfig(config: StargetConfig, host: string): RegistryConfig | undefined {
  const wanted = canonicalHost(host);
  return config.registries.find((r) => canonicalHost(r.host) === wanted);
}

/** What starget uses for one registry, each value with its source. */
export interface RegistrySettings {
  host: string;
  plainHttp: SourcedValue<boolean>;
  insecure: SourcedValue<boolean>;
  authType: SourcedValue<AuthType>;
  credentialHelper?: SourcedValue<string>;
}

/**
 * Settings for one registry: a flag or environment value wins, then the file's `registries.<host>` entry,
 * then the file's `defaults`, then the built-in default.
 */
export function settingsForRegistry(
  effective: EffectiveSettings,
  config: StargetConfig,
  host: string,
): RegistrySettings {
  const entry = findRegistryConfig(config, host);
  const fileSource = `file:${config.path ?? ''}` as const;
  const origin = entry?.line === undefined ? {} : { origin: `${config.path}:${entry.line}` };
  const pick = (general: SourcedValue<boolean>, specific: boolean | undefined): SourcedValue<boolean> =>
    general.source === 'flag' || general.source === 'env' || specific === undefined
      ? general
      : { value: specific, source: fileSource, ...origin };
  const settings: RegistrySettings = {
    host,
    plainHttp: pick(effective.plainHttp, entry?.plainHttp),
    insecure: pick(effective.insecure, entry?.insecure),
    authType:
      entry?.authType === undefined
        ? { value: 'auto', source: 'default' }
        : { value: entry.authType, source: fileSource, ...origin },
  };
  if (entry?.credentialHelper !== undefined) {
    settings.credentialHelper = { value: entry.credentialHelper, source: fileSource, ...origin };
  }
  return settings;
}

/** A registry entry fit to show: the password replaced by `********`. */
export function maskRegistryConfig(entry: RegistryConfig): RegistryConfig {
  return entry.password === undefined ? { ...entry } : { ...entry, password: '********' };
}
