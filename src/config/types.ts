/** The shape of a loaded config file, without the parser (yaml, zod), which only a present file needs. */

import type { SettingName, Settings } from './settings.js';
import type { AuthType } from './value-formats.js';

/** One `registries.<host>` entry of the config file. */
export interface RegistryConfig {
  /** the key as written in the file */
  host: string;
  authType?: AuthType;
  plainHttp?: boolean;
  insecure?: boolean;
  credentialHelper?: string;
  username?: string;
  password?: string;
  /** line of the key in the file */
  line?: number;
}

/** A parsed, validated config file. */
export interface StargetConfig {
  /** the file it came from; undefined when there is none */
  path?: string;
  /** the `defaults` section, in settings' names */
  defaults: Partial<Settings>;
  /** the line of each setting in `defaults` */
  defaultLines: Partial<Record<SettingName, number>>;
  registries: RegistryConfig[];
}

/** A config with nothing in it (no file found). */
export const EMPTY_CONFIG: StargetConfig = { defaults: {}, defaultLines: {}, registries: [] };
