import { z } from 'zod';

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

const durationSchema = z
  .union([z.number().nonnegative(), z.string()])
  .refine((v) => parseDuration(v) !== undefined, {
    message: 'expected a duration such as 30s, 500ms, 2m or a number of seconds',
  });

export const defaultsSchema = z.strictObject({
  concurrency: z.int().min(1).max(64).optional(),
  max_retries: z.int().min(0).max(20).optional(),
  no_progress: z.boolean().optional(),
  platform: z.string().regex(PLATFORM_PATTERN, 'expected os/arch[/variant], e.g. linux/amd64').optional(),
  plain_http: z.boolean().optional(),
  insecure: z.boolean().optional(),
  cache_dir: z.string().min(1).optional(),
  timeout: durationSchema.optional(),
  verbose: z.boolean().optional(),
  debug: z.boolean().optional(),
});

/** How starget authenticates to a registry: `auto` follows the 401 challenge. */
export const AUTH_TYPES = ['auto', 'basic', 'token', 'anonymous'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export const registrySchema = z
  .strictObject({
    auth_type: z.enum(AUTH_TYPES).optional(),
    plain_http: z.boolean().optional(),
    insecure: z.boolean().optional(),
    credential_helper: z
      .string()
      .regex(HELPER_NAME_PATTERN, 'expected the NAME of docker-credential-NAME')
      .optional(),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
  })
  .superRefine((value, ctx) => {
    if (value.password !== undefined && value.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'a password needs a username' });
    }
    if (value.username !== undefined && value.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'a username needs a password' });
    }
  });

export const configFileSchema = z.strictObject({
  defaults: defaultsSchema.nullish(),
  registries: z.record(z.string(), registrySchema.nullish()).nullish(),
});

export type RawConfigFile = z.infer<typeof configFileSchema>;
export type RawDefaults = z.infer<typeof defaultsSchema>;
export type RawRegistry = z.infer<typeof registrySchema>;
