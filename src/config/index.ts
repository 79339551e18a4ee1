export type { ConfigCandidate, ConfigOrigin, LoadConfigOptions, LoadedConfig } from './load.js';
export { configFileCandidates, loadConfig } from './load.js';
export type { RegistryConfig, StargetConfig } from './parse.js';
export { EMPTY_CONFIG, parseConfigText } from './parse.js';
export type { RegistrySettings } from './registries.js';
export { findRegistryConfig, maskRegistryConfig, settingsForRegistry } from './registries.js';
export type { AuthType } from './schema.js';
export { AUTH_TYPES, parseDuration } from './schema.js';
export type {
  EffectiveSettings,
  ResolveSettingsOptions,
  SettingName,
  SettingSource,
  Settings,
  SourcedValue,
} from './settings.js';
export { defaultSettings, hostPlatform, resolveSettings, SETTING_SPECS, settingValues } from './settings.js';
