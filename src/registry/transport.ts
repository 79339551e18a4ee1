/**
 * The one road for HTTP in starget. Every request goes through `Transport.request`: a pooled keep-alive
 * undici Agent, scheme choice, TLS verification switch, timeouts, redirects (with Authorization dropped when
 * the origin changes), authorization rounds on 401, retries with backoff and Retry-After, counting and
 * debug logging with secrets redacted.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { Agent, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import { StargzError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { HttpResponse, redactUrl } from './http-response.js';
import { MAX_REDIRECTS, nextRedirectHop, REDIRECT_STATUSES } from './redirect.js';
import { isLoopbackRegistry, registryApiHost } from './reference.js';
import { registryMessage } from './registry-errors.js';
import {
  backoffDelay,
  DEFAULT_RETRY,
  describeCause,
  isRetryableNetworkError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
  retriesExhaustedError,
} from './retry.js';

export { HttpResponse, redactUrl } from './http-response.js';

export interface TransportOptions {
  /** `true`: plain HTTP to every registry; `false`: HTTPS everywhere; unset: HTTP for loopback hosts only */
  plainHttp?: boolean;
  /** skip TLS certificate verification */
  insecure?: boolean;
  /** connect, response-headers and body-idle timeout in ms (default 30 000) */
  timeoutMs?: number;
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  userAgent?: string;
  /** waits `ms` (tests inject a fake clock); must reject when the signal aborts */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** the current time in ms since the epoch */
  now?: () => number;
  /** a number in [0, 1) for backoff jitter */
  random?: () => number;
  /**
   * HTTP(S) proxies, as the HTTP_PROXY / HTTPS_PROXY / NO_PROXY variables say them (the caller reads the
   * environment); requests are tunnelled with CONNECT. Unset: direct connections.
   */
  proxy?: ProxySettings;
}

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** comma-separated hosts (with optional port), domain suffixes, or `*` */
  noProxy?: string;
}

/** Decides the Authorization of requests to one registry origin and what to do about a 401. */
export interface RequestAuthorizer {
  /** The Authorization value to send, or undefined for none. */
  authorization(): Promise<string | undefined>;
  /**
   * Told of a 401 from the registry origin with its challenges; resolves true when a new attempt with a
   * fresh authorization is worth it. Throws StargzError('E_AUTH') when credentials are refused.
   */
  unauthorized(challenges: string[], sent: string | undefined): Promise<boolean>;
}

export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: URL | string;
  headers?: Record<string, string>;
  body?: string;
  /** authorization for the request's origin, renewed on 401 */
  authorizer?: RequestAuthorizer;
  /** a fixed Authorization value for the request's origin only (dropped on redirects to another origin) */
  authorization?: string;
  signal?: AbortSignal;
  /** retry connection errors and retryable statuses (default true) */
  retry?: boolean;
}

export interface TransportStats {
  /** requests sent, each redirect hop and retry counted */
  requests: number;
  retries: number;
  redirects: number;
  /** requests repeated with a new authorization after a 401 */
  authRetries: number;
  /** body bytes received */
  bytesReceived: number;
  /** TCP/TLS connections opened; requests minus this is how often a pooled connection was reused */
  connectionsOpened: number;
}

const MAX_AUTH_ROUNDS = 2;
const RATE_LIMIT_HEADERS = [
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'docker-ratelimit-source',
];
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_USER_AGENT = 'starget/0.1';

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined);
}

function abortedError(cause?: unknown): StargzError {
  return new StargzError('E_ABORTED', 'the operation was cancelled', { cause });
}

export class Transport {
  readonly retryOptions: RetryOptions;
  readonly logger: Logger;
  readonly now: () => number;
  private readonly agent: Dispatcher;
  private readonly options: TransportOptions;
  private readonly sleepFn: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly counters: TransportStats = {
    requests: 0,
    retries: 0,
    redirects: 0,
    authRetries: 0,
    bytesReceived: 0,
    connectionsOpened: 0,
  };

  constructor(options: TransportOptions = {}) {
    this.options = options;
    this.retryOptions = { ...DEFAULT_RETRY, ...options.retry };
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.sleepFn = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const agentOptions = {
      connect: { timeout, rejectUnauthorized: options.insecure !== true },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 10_000,
      connections: 16,
    };
    const proxy = options.proxy;
    this.agent =
      proxy?.httpProxy || proxy?.httpsProxy
        ? new EnvHttpProxyAgent({
            ...agentOptions,
            // '' (not undefined) so that undici does not read the process environment itself
            httpProxy: proxy.httpProxy ?? '',
            httpsProxy: proxy.httpsProxy ?? '',
            noProxy: proxy.noProxy ?? '',
            requestTls: { rejectUnauthorized: options.insecure !== true },
          })
        : new Agent(agentOptions);
    this.agent.on('connect', () => {
      this.counters.connectionsOpened++;
    });
  }

  /** The base URL of a registry's API: scheme by the plainHttp rule, Docker Hub's API host. */
  registryBaseUrl(registry: string): URL {
    return new URL(`${this.usesPlainHttp(registry) ? 'http' : 'https'}://${registryApiHost(registry)}`);
  }

  /** True when requests to this registry host go over plain HTTP. */
  usesPlainHttp(registry: string): boolean {
    return this.options.plainHttp ?? isLoopbackRegistry(registry);
  }

  /** True when sending credentials over this URL is allowed (HTTPS, or HTTP that the user chose or loopback). */
  mayCarryCredentials(url: URL): boolean {
    return url.protocol === 'https:' || this.options.plainHttp === true || isLoopbackRegistry(url.host);
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Closes pooled connections; requests after this fail. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Waits as the retry policy says (injected clock in tests); rejects with E_ABORTED on abort. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortedError(signal.reason);
    try {
      await this.sleepFn(ms, signal);
    } catch (error) {
      throw abortedError(error);
    }
  }

  /** The backoff before retry number `attempt` (0-based). */
  backoff(attempt: number): number {
    return backoffDelay(attempt, this.retryOptions, this.random);
  }

  /**
   * Sends a request: follows redirects, renews authorization on 401, retries connection errors and
   * retryable statuses. Resolves with the final response (whose body the caller must read or dump);
   * exhausted retries reject with E_NETWORK or E_RATE_LIMITED naming the last cause.
   */
  async request(request: TransportRequest): Promise<HttpResponse> {
    const url = typeof request.url === 'string' ? new URL(request.url) : request.url;
    const retrying = request.retry !== false;
    let attempt = 0;
    let authRounds = 0;
    while (true) {
      if (request.signal?.aborted) throw abortedError(request.signal.reason);
      const authorization = request.authorization ?? (await request.authorizer?.authorization());
      let response: HttpResponse;
      try {
        response = await this.followRedirects(request, url, authorization, attempt);
      } catch (error) {
        if (StargzError.is(error)) throw error;
        if (request.signal?.aborted) throw abortedError(error);
        const reason = describeCause(error);
        if (retrying && isRetryableNetworkError(error) && attempt < this.retryOptions.maxRetries) {
          await this.waitBeforeRetry(request, url, attempt, this.backoff(attempt), reason);
          attempt++;
          continue;
        }
        throw new StargzError(
          'E_NETWORK',
          `${request.method} ${redactUrl(url)} failed after ${attempt + 1} attempt(s): ${reason}`,
          { cause: error, details: { url: redactUrl(url), attempts: attempt + 1 } },
        );
      }

      if (
        response.status === 401 &&
        request.authorizer &&
        !response.originChanged &&
        authRounds < MAX_AUTH_ROUNDS
      ) {
        const again = await request.authorizer.unauthorized(
          response.headerValues('www-authenticate'),
          authorization,
        );
        if (again) {
          await response.dump();
          authRounds++;
          this.counters.authRetries++;
          continue;
        }
      }

      if (retrying && isRetryableStatus(response.status)) {
        const retryAfter = parseRetryAfter(response.header('retry-after'), this.now());
        const reason = `HTTP ${response.status}`;
        const tooLong = retryAfter !== undefined && retryAfter > this.retryOptions.maxRetryAfterMs;
        if (attempt < this.retryOptions.maxRetries && !tooLong) {
          await response.dump();
          await this.waitBeforeRetry(request, url, attempt, retryAfter ?? this.backoff(attempt), reason);
          attempt++;
          continue;
        }
        throw retriesExhaustedError({
          method: request.method,
          url: redactUrl(url),
          status: response.status,
          said: registryMessage(await response.text(8 * 1024)),
          attempts: attempt + 1,
          retryAfterMs: retryAfter,
          maxRetryAfterMs: this.retryOptions.maxRetryAfterMs,
        });
      }
      return response;
    }
  }

  /**
   * Sends a request and reads its whole body (capped at `maxBytes`), retrying the request when the body
   * breaks off. Non-success answers are returned too, with their (error) body.
   */
  async requestBytes(
    request: TransportRequest,
    maxBytes: number,
    what: string,
  ): Promise<{ response: HttpResponse; bytes: Buffer }> {
    let attempt = 0;
    while (true) {
      const response = await this.request(request);
      try {
        return { response, bytes: await response.bytes(maxBytes, what) };
      } catch (error) {
        if (StargzError.is(error)) throw error;
        if (request.signal?.aborted) throw abortedError(error);
        if (!isRetryableNetworkError(error) || attempt >= this.retryOptions.maxRetries) {
          throw new StargzError(
            'E_NETWORK',
            `reading ${what} from ${redactUrl(response.url)} failed after ${attempt + 1} attempt(s): ${describeCause(error)}`,
            { cause: error, details: { url: redactUrl(response.url) } },
          );
        }
        await this.waitBeforeRetry(
          request,
          response.url,
          attempt,
          this.backoff(attempt),
          describeCause(error),
        );
        attempt++;
      }
    }
  }

  /** Logs and waits before a retry; counts it. */
  async waitBeforeRetry(
    request: { method: string; signal?: AbortSignal },
    url: URL,
    attempt: number,
    waitMs: number,
    reason: string,
  ): Promise<void> {
    this.counters.retries++;
    this.logger.debug(`retry ${request.method} ${redactUrl(url)} in ${Math.round(waitMs)} ms: ${reason}`, {
      attempt: attempt + 1,
      maxRetries: this.retryOptions.maxRetries,
      reason,
      waitMs: Math.round(waitMs),
    });
    await this.sleep(waitMs, request.signal);
  }

  /** One attempt: sends and follows up to 5 redirects, keeping headers but Authorization off-origin. */
  private async followRedirects(
    request: TransportRequest,
    start: URL,
    authorization: string | undefined,
    attempt: number,
  ): Promise<HttpResponse> {
    let url = start;
    let method = request.method;
    let body = request.body;
    let auth = authorization;
    let originChanged = false;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = {
        'user-agent': this.options.userAgent ?? DEFAULT_USER_AGENT,
        ...request.headers,
      };
      if (auth !== undefined) headers.authorization = auth;
      const started = this.now();
      this.counters.requests++;
      const raw = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        body: body ?? null,
        signal: request.signal ?? null,
      });
      const status = raw.statusCode;
      const location = raw.headers.location;
      const redacted = redactUrl(url);
      const response = new HttpResponse(
        status,
        raw.headers,
        url,
        hop,
        originChanged,
        raw.body,
        (bytes, outcome) => {
          this.counters.bytesReceived += bytes;
          this.logger.debug(
            `${method} ${redacted} body ${outcome}: ${bytes} bytes in ${this.now() - started} ms`,
            {
              method,
              url: redacted,
              status,
              bytes,
              ms: this.now() - started,
            },
          );
        },
      );
      this.logResponse(method, redacted, response, this.now() - started, attempt, hop);
      if (!REDIRECT_STATUSES.has(status) || typeof location !== 'string') return response;

      await response.dump();
      if (hop >= MAX_REDIRECTS) {
        throw new StargzError(
          'E_PROTOCOL',
          `${request.method} ${redactUrl(start)}: more than ${MAX_REDIRECTS} redirects`,
          {
            details: { url: redactUrl(start) },
          },
        );
      }
      const next = nextRedirectHop(url, location, status, method, start, this.options.plainHttp === true);
      this.counters.redirects++;
      if (!next.keepAuthorization) {
        auth = undefined; // never carry credentials to another origin, even on the way back
        originChanged = true;
      }
      if (!next.keepBody) body = undefined;
      method = next.method as TransportRequest['method'];
      url = next.url;
    }
  }

  private logResponse(
    method: string,
    url: string,
    response: HttpResponse,
    ms: number,
    attempt: number,
    hop: number,
  ): void {
    const fields: Record<string, unknown> = { method, url, status: response.status, ms };
    if (attempt > 0) fields.attempt = attempt;
    if (hop > 0) fields.redirectHop = hop;
    const length = response.contentLength;
    if (length !== undefined) fields.contentLength = length;
    for (const name of RATE_LIMIT_HEADERS) {
      const value = response.header(name);
      if (value !== undefined) fields[name] = value;
    }
    if (REDIRECT_STATUSES.has(response.status)) {
      const location = response.header('location');
      if (location !== undefined) {
        try {
          fields.location = redactUrl(new URL(location, response.url));
        } catch {
          fields.location = '(invalid)';
        }
      }
    }
    this.logger.debug(`${method} ${url} ${response.status} in ${ms} ms`, fields);
  }
}
