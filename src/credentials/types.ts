import type { Credential, CredentialProvider } from '../registry/types.js';

/** A credential together with a description of where it came from (never the secret itself). */
export interface CredentialLookup {
  credential: Credential;
  /** e.g. `flag --credential`, `docker config /home/u/.docker/config.json auths["ghcr.io"]` */
  source: string;
}

/** A credential provider that can also say where its answer came from. */
export interface CredentialSource extends CredentialProvider {
  /** short name for debug output: `flag`, `config file`, `docker config`, `auth.json` */
  readonly name: string;
  /** Like `get`, with the source of the answer. undefined means this source has nothing for the registry. */
  lookup(registry: string): Promise<CredentialLookup | undefined>;
}

/** Reported once per lookup by a provider chain: which source answered, and with what kind of credential. */
export interface CredentialLookupEvent {
  registry: string;
  /** the answering source, or `anonymous` when none had anything */
  source: string;
  kind: Credential['kind'] | 'anonymous';
}
