/**
 * Redirect rules, pure: which answers are redirects, where they lead, and what the next hop may carry.
 * The transport follows them; nothing else does.
 */

import { StargzError } from '../errors.js';
import { redactUrl } from './http-response.js';

/** Statuses followed as redirects. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Hops followed before giving up with E_PROTOCOL. */
export const MAX_REDIRECTS = 5;

export interface RedirectHop {
  url: URL;
  method: string;
  /** false when the request body must be dropped (303 turns the request into a GET) */
  keepBody: boolean;
  /** false when the next hop is on another origin: Authorization must not go there */
  keepAuthorization: boolean;
}

/**
 * The next hop of a redirect from `current` (the request started at `start`, for messages). Only http(s)
 * targets are followed, and https → http only with `allowPlainHttp`; anything else is E_PROTOCOL.
 */
export function nextRedirectHop(
  current: URL,
  location: string,
  status: number,
  method: string,
  start: URL,
  allowPlainHttp: boolean,
): RedirectHop {
  let next: URL;
  try {
    next = new URL(location, current);
  } catch (error) {
    throw new StargzError('E_PROTOCOL', `${redactUrl(start)} redirected to an invalid location`, {
      cause: error,
    });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new StargzError(
      'E_PROTOCOL',
      `${redactUrl(start)} redirected to a ${next.protocol} URL; only http and https are followed`,
      { details: { url: redactUrl(start) } },
    );
  }
  if (current.protocol === 'https:' && next.protocol === 'http:' && !allowPlainHttp) {
    throw new StargzError(
      'E_PROTOCOL',
      `${redactUrl(start)} redirected from https to plain http (${redactUrl(next)}); refused (use --plain-http to allow)`,
      { details: { url: redactUrl(start), location: redactUrl(next) } },
    );
  }
  const toGet = status === 303 && method !== 'HEAD';
  return {
    url: next,
    method: toGet ? 'GET' : method,
    keepBody: !toGet,
    keepAuthorization: next.origin === current.origin,
  };
}
