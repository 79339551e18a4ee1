import type { StargetConfig } from '../config/parse.js';
import { findRegistryConfig } from '../config/registries.js';
import { sourceFromLookup } from './file-source.js';
import type { CredentialHelperRunner } from './helper.js';
import type { CredentialSource } from './types.js';

/**
 * Credentials from starget's own config file: `registries.<host>.username`/`password`, else
 * `registries.<host>.credential_helper` (a `docker-credential-NAME` program).
 */
export function configFileCredentials(
  config: StargetConfig,
  helpers: CredentialHelperRunner,
): CredentialSource {
  return sourceFromLookup('config file', async (registry) => {
    const entry = findRegistryConfig(config, registry);
    if (!entry) return undefined;
    const where = `config file ${config.path ?? ''} registries["${entry.host}"]`;
    if (entry.username !== undefined && entry.password !== undefined) {
      return {
        credential: { kind: 'basic', username: entry.username, password: entry.password },
        source: where,
      };
    }
    if (entry.credentialHelper !== undefined) {
      const credential = await helpers.get(entry.credentialHelper, registry);
      if (credential) return { credential, source: `${where} → docker-credential-${entry.credentialHelper}` };
    }
    return undefined;
  });
}
