/**
 * The one error type starget throws. Every failure a user can meet carries a stable string `code`,
 * a message that says what happened and what to do, an optional `cause`, and `details` for tools.
 * Messages and details never hold secrets (no Authorization values, tokens, or signed URL queries).
 */

export type StargzErrorCode =
  /** the command line or an option is wrong */
  | 'E_USAGE'
  /** an image reference does not follow docker's grammar */
  | 'E_INVALID_REFERENCE'
  /** the configuration file or environment is invalid */
  | 'E_CONFIG'
  /** image, tag, blob, path or pattern does not exist */
  | 'E_NOT_FOUND'
  /** credentials missing, wrong, or access denied */
  | 'E_AUTH'
  /** a layer has no eStargz footer */
  | 'E_NOT_ESTARGZ'
  /** a media type, platform or feature starget does not handle */
  | 'E_UNSUPPORTED'
  /** the TOC (or its footer) is malformed or inconsistent with the blob */
  | 'E_TOC_INVALID'
  /** a TOC, chunk, file, manifest or blob does not hash to its expected digest */
  | 'E_DIGEST_MISMATCH'
  /** the data is corrupt in another way: bad gzip, truncated member, size mismatch */
  | 'E_CORRUPT'
  /** connection failures, resets, timeouts, exhausted retries */
  | 'E_NETWORK'
  /** the registry keeps answering 429 */
  | 'E_RATE_LIMITED'
  /** the server broke the protocol: wrong Content-Range, bad redirect, oversized manifest */
  | 'E_PROTOCOL'
  /** a write would land outside the output directory or through a symlink */
  | 'E_UNSAFE_PATH'
  /** a local file system operation failed */
  | 'E_IO'
  /** the operation was cancelled (signal, AbortSignal) */
  | 'E_ABORTED'
  /** a bug: an invariant was broken */
  | 'E_INTERNAL';

const BRAND = Symbol.for('starget.StargzError');

export interface StargzErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class StargzError extends Error {
  override readonly name = 'StargzError';
  readonly code: StargzErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: StargzErrorCode, message: string, options: StargzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a StargzError from any copy of this module (cross-realm safe). */
  static is(value: unknown): value is StargzError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): { code: StargzErrorCode; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Process exit codes, documented in the README. */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  unsupported: 5,
  integrity: 6,
  network: 7,
  unsafePath: 8,
  sigint: 130,
  sigterm: 143,
} as const;

/** The exit code the CLI uses for an error with this code. */
export function exitCodeFor(error: unknown): number {
  if (!StargzError.is(error)) return EXIT_CODES.failure;
  switch (error.code) {
    case 'E_USAGE':
    case 'E_INVALID_REFERENCE':
    case 'E_CONFIG':
      return EXIT_CODES.usage;
    case 'E_NOT_FOUND':
      return EXIT_CODES.notFound;
    case 'E_AUTH':
      return EXIT_CODES.auth;
    case 'E_NOT_ESTARGZ':
    case 'E_UNSUPPORTED':
      return EXIT_CODES.unsupported;
    case 'E_TOC_INVALID':
    case 'E_DIGEST_MISMATCH':
    case 'E_CORRUPT':
      return EXIT_CODES.integrity;
    case 'E_NETWORK':
    case 'E_RATE_LIMITED':
    case 'E_PROTOCOL':
      return EXIT_CODES.network;
    case 'E_UNSAFE_PATH':
      return EXIT_CODES.unsafePath;
    default:
      return EXIT_CODES.failure;
  }
}

/** Wraps anything thrown into a StargzError, keeping StargzErrors as they are. */
export function toStargzError(error: unknown, fallback: StargzErrorCode = 'E_INTERNAL'): StargzError {
  if (StargzError.is(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new StargzError('E_ABORTED', 'the operation was cancelled', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new StargzError(fallback, message, { cause: error });
}
