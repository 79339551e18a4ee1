/**
 * The formats of config and environment values that are checked without a schema library, so that a run
 * with no config file never loads yaml or zod (`schema.ts` builds its schema from these).
 */

/** `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds. */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds for a duration (`30s`, `500ms`, `2m`, `1h`, or seconds as a number); undefined if malformed. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] ?? 's']!;
}

/** `os/arch[/variant]`, e.g. `linux/amd64`, `linux/arm/v7`. */
export const PLATFORM_PATTERN = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;

/** A registry key in the file: `host[:port]`, no scheme, no path. */
export const REGISTRY_HOST_PATTERN = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/i;

/** Credential helper names are the suffix of `docker-credential-NAME`. */
export const HELPER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** How starget authenticates to a registry: `auto` follows the 401 challenge. */
export const AUTH_TYPES = ['auto', 'basic', 'token', 'anonymous'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
