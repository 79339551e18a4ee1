import type { StargetConfig } from '../config/parse.js';
import { chainProviders } from './chain.js';
import { configFileCredentials } from './config-source.js';
import {
  authJsonCredentials,
  authJsonPaths,
  dockerConfigCredentials,
  dockerConfigPath,
} from './file-source.js';
import { type CredentialHelperRunner, createCredentialHelperRunner } from './helper.js';
import { staticCredential } from './static.js';
import type { CredentialLookupEvent, CredentialSource } from './types.js';

export type { ChainOptions } from './chain.js';
export { chainProviders } from './chain.js';
export { configFileCredentials } from './config-source.js';
export type { AuthEntry, CredentialFile } from './credential-file.js';
export { credentialFromAuthEntry, parseCredentialFile, readCredentialFile } from './credential-file.js';
export type { CredentialFileSourceOptions } from './file-source.js';
export {
  authJsonCredentials,
  authJsonPaths,
  dockerConfigCredentials,
  dockerConfigPath,
  sourceFromLookup,
} from './file-source.js';
export type { CredentialHelperOptions, CredentialHelperRunner } from './helper.js';
export {
  createCredentialHelperRunner,
  DEFAULT_HELPER_TIMEOUT_MS,
  parseHelperAnswer,
  runHelperGet,
} from './helper.js';
export { canonicalHost, DOCKER_HUB_KEY, helperServerUrl, isDockerHub } from './registry-host.js';
export { parseCredentialFlag, staticCredential } from './static.js';
export type { CredentialLookup, CredentialLookupEvent, CredentialSource } from './types.js';

export interface DefaultCredentialsOptions {
  /** from `--credential user:pass` or `--username` + `--password-stdin` */
  flagCredential?: { username: string; password: string };
  /** the loaded starget config file */
  config?: StargetConfig;
  /** environment used for file locations (`DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, `XDG_*`) and helpers' PATH */
  env: Record<string, string | undefined>;
  homedir: string;
  /** credential helper timeout in ms (default 10 s) */
  helperTimeoutMs?: number;
  /** share a helper runner (and its answer cache) */
  helpers?: CredentialHelperRunner;
  onLookup?: (event: CredentialLookupEvent) => void;
}

/**
 * The documented credential order: flag > config file (`username`/`password`, `credential_helper`) >
 * docker `config.json` (`credHelpers` > `credsStore` > `auths`) > podman `auth.json` > anonymous.
 */
export function defaultCredentials(options: DefaultCredentialsOptions): CredentialSource {
  const helpers =
    options.helpers ??
    createCredentialHelperRunner(
      options.helperTimeoutMs === undefined
        ? { env: options.env }
        : { env: options.env, timeoutMs: options.helperTimeoutMs },
    );
  const sources: CredentialSource[] = [];
  if (options.flagCredential) {
    sources.push(staticCredential(options.flagCredential.username, options.flagCredential.password));
  }
  if (options.config) sources.push(configFileCredentials(options.config, helpers));
  sources.push(dockerConfigCredentials({ path: dockerConfigPath(options), helpers }));
  sources.push(authJsonCredentials({ paths: authJsonPaths(options), helpers }));
  return chainProviders(sources, options.onLookup ? { onLookup: options.onLookup } : {});
}
