/**
 * Registry authentication: learns each registry's challenge from its first 401, fetches Bearer tokens from
 * the realm (anonymously, with Basic credentials, or with an identity token through the OAuth2
 * refresh_token grant), caches them per realm + service + scope until shortly before they expire, renews
 * once on a later 401, and sends Basic credentials to registries that ask for Basic. Credentials go only to
 * the registry's origin and to its token realm.
 */

import { StargzError } from '../errors.js';
import { type AuthChallenge, parseChallenges } from './challenge.js';
import { redactUrl } from './http-response.js';
import { registryMessage } from './registry-errors.js';
import type { RequestAuthorizer, Transport } from './transport.js';
import type { Credential, CredentialProvider } from './types.js';

/** Token lifetime when the token server does not say (the distribution token spec's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Renew this long before expiry at most (a quarter of the lifetime for short-lived tokens). */
const MAX_REFRESH_LEEWAY_MS = 30_000;
const MAX_TOKEN_RESPONSE = 1024 * 1024;
const CLIENT_ID = 'starget';

interface CachedToken {
  value: string;
  /** when to fetch a new one: a little before it expires */
  refreshAt: number;
}

export interface AuthStats {
  /** token requests made to realms */
  tokenFetches: number;
}

function basicValue(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The challenge starget answers: Bearer first, then Basic; others are not supported. */
function pickChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
  return (
    challenges.find((challenge) => challenge.scheme === 'bearer') ??
    challenges.find((challenge) => challenge.scheme === 'basic')
  );
}

export class Authenticator {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly credentialLookups = new Map<string, Promise<Credential | undefined>>();
  private tokenFetches = 0;

  constructor(
    private readonly transport: Transport,
    private readonly credentials?: CredentialProvider,
  ) {}

  stats(): AuthStats {
    return { tokenFetches: this.tokenFetches };
  }

  /** The credential for a registry host, looked up once per client. */
  credentialFor(registry: string): Promise<Credential | undefined> {
    let lookup = this.credentialLookups.get(registry);
    if (lookup === undefined) {
      const provider = this.credentials;
      lookup = provider === undefined ? Promise.resolve(undefined) : provider.get(registry);
      this.credentialLookups.set(registry, lookup);
    }
    return lookup;
  }

  /** An authorizer for one request (its state bounds renewals to one per request) to `registry/repository`. */
  forRepository(registry: string, repository: string): RequestAuthorizer {
    return new RepositoryAuthorizer(this, registry, repository);
  }

  /** @internal the challenge a registry answered with last, if any */
  knownChallenge(registry: string): AuthChallenge | undefined {
    return this.challenges.get(registry);
  }

  /** @internal */
  rememberChallenge(registry: string, challenge: AuthChallenge): void {
    this.challenges.set(registry, challenge);
  }

  /**
   * @internal A token for the challenge and scope: cached while fresh, else fetched (once for concurrent
   * asks). `rejected` is a token the registry refused: it is dropped from the cache, a newer one is kept.
   */
  async token(
    registry: string,
    challenge: AuthChallenge,
    scope: string,
    credential: Credential | undefined,
    rejected?: string,
  ): Promise<string> {
    const key = `${challenge.params.realm ?? ''}\n${challenge.params.service ?? ''}\n${scope}`;
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.value === rejected) this.tokens.delete(key);
    else if (cached !== undefined && this.transport.now() < cached.refreshAt) return cached.value;
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(registry, challenge, scope, credential).finally(() =>
        this.pending.delete(key),
      );
      this.pending.set(key, pending);
    }
    const token = await pending;
    this.tokens.set(key, token);
    return token.value;
  }

  private async fetchToken(
    registry: string,
    challenge: AuthChallenge,
    scope: string,
    credential: Credential | undefined,
  ): Promise<CachedToken> {
    const realm = this.realmUrl(registry, challenge);
    const service = challenge.params.service;
    const sendsSecret = credential !== undefined && credential.kind !== 'registryToken';
    if (sendsSecret && !this.transport.mayCarryCredentials(realm)) {
      throw new StargzError(
        'E_AUTH',
        `the token realm of ${registry} (${redactUrl(realm)}) is plain http: refusing to send credentials (use --plain-http to allow)`,
        { details: { registry, realm: redactUrl(realm) } },
      );
    }
    this.tokenFetches++;
    let result: Awaited<ReturnType<Transport['requestBytes']>>;
    if (credential?.kind === 'identityToken') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.token });
      if (service !== undefined) form.set('service', service);
      form.set('scope', scope);
      form.set('client_id', CLIENT_ID);
      result = await this.transport.requestBytes(
        {
          method: 'POST',
          url: realm,
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
        },
        MAX_TOKEN_RESPONSE,
        'token response',
      );
    } else {
      const url = new URL(realm);
      if (service !== undefined) url.searchParams.set('service', service);
      url.searchParams.append('scope', scope);
      result = await this.transport.requestBytes(
        {
          method: 'GET',
          url,
          headers: { accept: 'application/json' },
          authorization:
            credential?.kind === 'basic' ? basicValue(credential.username, credential.password) : undefined,
        },
        MAX_TOKEN_RESPONSE,
        'token response',
      );
    }
    const { response, bytes } = result;
    const text = bytes.toString('utf8');
    if (response.status !== 200) {
      const said = registryMessage(text);
      const saidPart = said === undefined ? '' : `: ${said}`;
      const advice =
        credential === undefined
          ? 'this repository needs credentials (--credential user:pass or docker login)'
          : 'check your credentials';
      throw new StargzError(
        'E_AUTH',
        `the token server of ${registry} refused access to ${scope} (HTTP ${response.status}${saidPart}): ${advice}`,
        { details: { registry, realm: redactUrl(realm), status: response.status, scope } },
      );
    }
    return this.readToken(registry, text);
  }

  private realmUrl(registry: string, challenge: AuthChallenge): URL {
    const realm = challenge.params.realm;
    let url: URL | undefined;
    try {
      url = realm === undefined ? undefined : new URL(realm);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new StargzError(
        'E_PROTOCOL',
        `${registry} sent a Bearer challenge without a usable http(s) realm`,
        {
          details: { registry },
        },
      );
    }
    return url;
  }

  private readToken(registry: string, text: string): CachedToken {
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      // handled below
    }
    const value = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new StargzError('E_PROTOCOL', `the token server of ${registry} answered without a token`, {
        details: { registry },
      });
    }
    const expiresIn =
      typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0
        ? body.expires_in
        : DEFAULT_TOKEN_LIFETIME_S;
    const lifetimeMs = expiresIn * 1000;
    const now = this.transport.now();
    const leeway = Math.min(MAX_REFRESH_LEEWAY_MS, lifetimeMs / 4);
    return { value, refreshAt: now + lifetimeMs - leeway };
  }
}

/** Authorization for the requests of one operation on one repository. */
class RepositoryAuthorizer implements RequestAuthorizer {
  private renewed = false;
  private readonly scope: string;

  constructor(
    private readonly auth: Authenticator,
    private readonly registry: string,
    repository: string,
  ) {
    this.scope = `repository:${repository}:pull`;
  }

  async authorization(): Promise<string | undefined> {
    const credential = await this.auth.credentialFor(this.registry);
    if (credential?.kind === 'registryToken') return `Bearer ${credential.token}`;
    const challenge = this.auth.knownChallenge(this.registry);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') {
      return credential?.kind === 'basic' ? basicValue(credential.username, credential.password) : undefined;
    }
    return `Bearer ${await this.auth.token(this.registry, challenge, this.scope, credential)}`;
  }

  async unauthorized(headers: string[], sent: string | undefined): Promise<boolean> {
    const challenge = pickChallenge(parseChallenges(headers));
    if (challenge === undefined) return false;
    const credential = await this.auth.credentialFor(this.registry);
    if (credential?.kind === 'registryToken') return false; // a fixed token was refused: nothing to renew
    const previous = this.auth.knownChallenge(this.registry);
    this.auth.rememberChallenge(this.registry, challenge);
    if (challenge.scheme === 'basic') {
      // worth one try when we have credentials and did not send them yet
      return credential?.kind === 'basic' && (sent === undefined || previous?.scheme !== 'basic');
    }
    // Bearer: fetch a fresh token once per operation (expired or revoked tokens); a fresh one refused is final
    if (this.renewed) return false;
    this.renewed = true;
    const rejected = sent?.startsWith('Bearer ') ? sent.slice('Bearer '.length) : undefined;
    await this.auth.token(this.registry, challenge, this.scope, credential, rejected);
    return true;
  }
}
