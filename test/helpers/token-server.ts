import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateCertificate, type SigningAlgorithm, type TestCertificate } from './certs.js';
import { type HttpTestServer, readBody, startHttpServer } from './http-server.js';
import { decodeJwt, registryClaims, signJwt, type TokenAccess } from './jwt.js';

/** Behaviour of the token server; every field can also be changed while it runs with `update()`. */
export interface TokenServerSettings {
  /** `expires_in` in answers, seconds (default 300) */
  expiresIn: number;
  /** leave `expires_in` out of answers (clients must assume 60 s) */
  omitExpiresIn: boolean;
  /**
   * `exp - iat` of the JWTs, seconds (default: `expiresIn`). Negative values mint tokens that are already expired;
   * the registry accepts about 60 s past `exp`, so use -120 or less to mint tokens it refuses at once.
   */
  lifetimeSeconds: number | undefined;
  /** which token fields answers carry (default both `token` and `access_token`) */
  tokenFields: 'both' | 'token' | 'access_token';
  /** repositories anonymous clients may pull; `'*'` for all (default none) */
  anonymousPull: string[] | '*';
}

export interface TokenServerOptions extends Partial<TokenServerSettings> {
  /** `service` = `aud`, default `starget-test-registry` */
  service?: string;
  /** `iss`, default `starget-test-issuer` */
  issuer?: string;
  /** default ES256 */
  algorithm?: SigningAlgorithm;
  /** how the JWS header names the key the registry must use: `x5c` certificate (default) or libtrust `kid` */
  keyHeader?: 'x5c' | 'kid';
  /** signing certificate to reuse (default: a fresh one of `algorithm`) */
  certificate?: TestCertificate;
  /** username → password accepted as Basic credentials or by the `password` grant */
  users?: Record<string, string>;
  /** refresh (identity) token → username, accepted by POST `grant_type=refresh_token` */
  identityTokens?: Record<string, string>;
  /**
   * Actions granted to an authenticated `user` on `repository` out of `requested`.
   * Default: everything requested. Anonymous clients get `pull` on `anonymousPull` repositories only.
   */
  grant?: (user: string, repository: string, requested: string[]) => string[];
}

/** One request the token server saw. */
export interface TokenRequestRecord {
  method: string;
  /** `get` for the docker token GET, or the POST `grant_type` */
  grantType: string;
  service: string | undefined;
  /** every requested scope string as sent */
  scopes: string[];
  /** the raw `Authorization` header, if any */
  authorization: string | undefined;
  /** the user the request authenticated as, if any */
  user: string | undefined;
  status: number;
}

/** A token the server issued. */
export interface IssuedToken {
  token: string;
  jti: string;
  subject: string;
  access: TokenAccess[];
  exp: number;
  refreshToken?: string;
}

export interface TokenServer {
  readonly url: string;
  readonly host: string;
  /** the realm a registry's `auth.token.realm` points at: `${url}/token` */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** the signing certificate: its `certPem` is the registry's `rootcertbundle` */
  readonly certificate: TestCertificate;
  readonly settings: TokenServerSettings;
  /** every request, oldest first */
  readonly requests: TokenRequestRecord[];
  /** every token issued, oldest first */
  readonly issued: IssuedToken[];
  /** number of requests that asked for a token (GET or POST) */
  readonly tokenRequestCount: number;
  /** the `Authorization` header of the last request (undefined when it had none) */
  readonly lastAuthorization: string | undefined;
  /** Changes settings while running (e.g. shorter lifetimes for the next tokens). */
  update(settings: Partial<TokenServerSettings>): void;
  /** Makes the next `count` token requests fail with `status` (default 503) before they are looked at. */
  failNext(count: number, status?: number): void;
  /** Marks every token issued so far as revoked (see `isRevoked`; the registry itself cannot know). */
  revokeIssued(): void;
  /** True when an `Authorization: Bearer …` header (or bare token) holds a token marked revoked. */
  isRevoked(authorizationOrToken: string | undefined): boolean;
  /** The `WWW-Authenticate` value a registry using this server sends for `scope`. */
  challenge(scope?: string): string;
  close(): Promise<void>;
}

const DEFAULT_SETTINGS: TokenServerSettings = {
  expiresIn: 300,
  omitExpiresIn: false,
  lifetimeSeconds: undefined,
  tokenFields: 'both',
  anonymousPull: [],
};

interface ParsedScope {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `repository:ns/name:pull,push` (the name may not hold `:`, the type may carry `(class)`). */
function parseScope(scope: string): ParsedScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  return {
    type,
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Starts a docker token server (the protocol behind `WWW-Authenticate: Bearer realm=…`) on a free loopback port.
 * GET `/token?service=&scope=…` with optional Basic credentials (and `offline_token=true` to get a refresh token);
 * POST `/token` form grants `refresh_token` and `password`. Answers `{token, access_token, expires_in, issued_at}`
 * with JWTs the distribution registry trusts when its `rootcertbundle` is `certificate.certPem`.
 */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const algorithm = options.certificate?.algorithm ?? options.algorithm ?? 'ES256';
  const certificate =
    options.certificate ?? (await generateCertificate({ algorithm, commonName: 'token signer' }));
  const service = options.service ?? 'starget-test-registry';
  const issuer = options.issuer ?? 'starget-test-issuer';
  const keyHeader =
    (options.keyHeader ?? 'x5c') === 'x5c'
      ? { x5c: [certificate.certDer.toString('base64')] }
      : { kid: certificate.keyId };
  const users = options.users ?? {};
  const refreshTokens = new Map(Object.entries(options.identityTokens ?? {}));
  const settings: TokenServerSettings = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof TokenServerSettings)[]) {
    if (options[key] !== undefined) Object.assign(settings, { [key]: options[key] });
  }
  const requests: TokenRequestRecord[] = [];
  const issued: IssuedToken[] = [];
  const revoked = new Set<string>();
  let failures: { count: number; status: number } = { count: 0, status: 503 };
  let server: HttpTestServer | undefined;

  const grantFor = (user: string | undefined, scope: ParsedScope): string[] => {
    if (scope.type !== 'repository') return [];
    if (user !== undefined) {
      return options.grant ? options.grant(user, scope.name, scope.actions) : scope.actions;
    }
    const anon = settings.anonymousPull;
    const open = anon === '*' || anon.includes(scope.name);
    return open ? scope.actions.filter((action) => action === 'pull') : [];
  };

  const issue = (user: string | undefined, scopes: string[], withRefresh: boolean) => {
    const access: TokenAccess[] = [];
    for (const raw of scopes) {
      const scope = parseScope(raw);
      if (!scope) continue;
      const actions = grantFor(user, scope);
      if (actions.length > 0) access.push({ type: scope.type, name: scope.name, actions });
    }
    const now = Math.floor(Date.now() / 1000);
    const lifetimeSeconds = settings.lifetimeSeconds ?? settings.expiresIn;
    const claims = registryClaims({
      issuer,
      subject: user ?? '',
      audience: service,
      access,
      now,
      lifetimeSeconds,
    });
    const token = signJwt(claims, certificate.privateKey, algorithm, keyHeader);
    const record: IssuedToken = { token, jti: claims.jti, subject: claims.sub, access, exp: claims.exp };
    if (withRefresh && user !== undefined) {
      record.refreshToken = randomBytes(24).toString('base64url');
      refreshTokens.set(record.refreshToken, user);
    }
    issued.push(record);
    const body: Record<string, unknown> = { issued_at: new Date(now * 1000).toISOString() };
    if (settings.tokenFields !== 'access_token') body.token = token;
    if (settings.tokenFields !== 'token') body.access_token = token;
    if (!settings.omitExpiresIn) body.expires_in = settings.expiresIn;
    if (record.refreshToken) body.refresh_token = record.refreshToken;
    return body;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const method = req.method ?? 'GET';
    const authorization = req.headers.authorization;
    const record: TokenRequestRecord = {
      method,
      grantType: 'get',
      service: undefined,
      scopes: [],
      authorization,
      user: undefined,
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, body: unknown, headers?: Record<string, string>) => {
      record.status = status;
      sendJson(res, status, body, headers);
    };
    if (url.pathname !== '/token') return answer(404, { error: 'not found' });
    let params = url.searchParams;
    if (method === 'POST') {
      params = new URLSearchParams((await readBody(req)).toString('utf8'));
      record.grantType = params.get('grant_type') ?? '';
    } else if (method !== 'GET') {
      return answer(405, { error: 'method not allowed' });
    }
    record.service = params.get('service') ?? undefined;
    record.scopes = params.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
    if (failures.count > 0) {
      failures.count--;
      return answer(failures.status, { error: 'injected failure' });
    }
    if (record.service !== service) {
      return answer(400, {
        error: 'invalid_request',
        error_description: `unknown service ${record.service}`,
      });
    }
    const denied = () =>
      answer(401, {
        errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }],
        details: 'incorrect username or password',
      });
    if (method === 'GET') {
      const basic = parseBasic(authorization);
      if (authorization !== undefined) {
        if (!basic || users[basic.user] === undefined || users[basic.user] !== basic.password)
          return denied();
        record.user = basic.user;
      }
      return answer(200, issue(record.user, record.scopes, params.get('offline_token') === 'true'));
    }
    if (record.grantType === 'refresh_token') {
      const user = refreshTokens.get(params.get('refresh_token') ?? '');
      if (user === undefined) return answer(401, { error: 'invalid_grant' });
      record.user = user;
      return answer(200, issue(user, record.scopes, false));
    }
    if (record.grantType === 'password') {
      const user = params.get('username') ?? '';
      if (users[user] === undefined || users[user] !== params.get('password')) return denied();
      record.user = user;
      return answer(200, issue(user, record.scopes, params.get('access_type') === 'offline'));
    }
    return answer(400, { error: 'unsupported_grant_type' });
  };

  server = await startHttpServer(handle);
  const realm = `${server.url}/token`;
  const bearerOf = (value: string | undefined) => value?.replace(/^Bearer\s+/i, '');
  return {
    url: server.url,
    host: server.host,
    realm,
    service,
    issuer,
    certificate,
    settings,
    requests,
    issued,
    get tokenRequestCount() {
      return requests.filter((r) => r.status !== 404 && r.status !== 405).length;
    },
    get lastAuthorization() {
      return requests.at(-1)?.authorization;
    },
    update(patch) {
      Object.assign(settings, patch);
    },
    failNext(count, status = 503) {
      failures = { count, status };
    },
    revokeIssued() {
      for (const token of issued) revoked.add(token.jti);
    },
    isRevoked(value) {
      const token = bearerOf(value);
      if (!token) return false;
      try {
        const jti = decodeJwt(token).payload.jti;
        return typeof jti === 'string' && revoked.has(jti);
      } catch {
        return false;
      }
    },
    challenge(scope) {
      const parts = [`realm="${realm}"`, `service="${service}"`];
      if (scope) parts.push(`scope="${scope}"`);
      return `Bearer ${parts.join(',')}`;
    },
    close: () => server!.close(),
  };
}
