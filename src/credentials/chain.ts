import type { Credential } from '../registry/types.js';
import type { CredentialLookup, CredentialLookupEvent, CredentialSource } from './types.js';

export interface ChainOptions {
  /** told which source answered each lookup (never the secret) */
  onLookup?: (event: CredentialLookupEvent) => void;
}

/**
 * Asks each source in turn and returns the first credential; none means anonymous. An error from a
 * source (a broken helper, a malformed file) stops the chain: it is not silently skipped.
 */
export function chainProviders(sources: CredentialSource[], options: ChainOptions = {}): CredentialSource {
  const lookup = async (registry: string): Promise<CredentialLookup | undefined> => {
    for (const source of sources) {
      const found = await source.lookup(registry);
      if (found) {
        options.onLookup?.({ registry, source: found.source, kind: found.credential.kind });
        return found;
      }
    }
    options.onLookup?.({ registry, source: 'anonymous', kind: 'anonymous' });
    return undefined;
  };
  return {
    name: 'chain',
    lookup,
    async get(registry: string): Promise<Credential | undefined> {
      return (await lookup(registry))?.credential;
    },
  };
}
