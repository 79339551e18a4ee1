export type { ConfigCandidate, ConfigOrigin, LoadConfigOptions, LoadedConfig } from './load.js';
export { configFileCandidates, loadConfig } from './load.js';
export type { RegistrySettings } from './registries.js';
export { findRegistryConfig, maskRegistryConfig, settingsForRegistry } from './registries.js';
export type {
  EffectiveSettings,
  ResolveSettingsOptions,
  SettingName,
  SettingSource,
  Settings,
  SourcedValue,
} from './settings.js';
export { defaultSettings, hostPlatform, resolveSettings, SETTING_SPECS, settingValues } from './settings.js';
// parse.js and schema.js (yaml, zod) are not re-exported: importing them costs every run ~10 MB and
// ~80 ms; load.js imports the parser only when a config file exists. Import them directly if needed.
export type { RegistryConfig, StargetConfig } from './types.js';
export { EMPTY_CONFIG } from './types.js';
export type { AuthType } from './value-formats.js';
export { AUTH_TYPES, parseDuration } from './value-formats.js';
