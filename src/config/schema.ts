import { z } from 'zod';
import {
  AUTH_TYPES,
  HELPER_NAME_PATTERN,
  PLATFORM_PATTERN,
  parseDuration,
  REGISTRY_HOST_PATTERN,
} from './value-formats.js';

export type { AuthType } from './value-formats.js';
export { AUTH_TYPES, HELPER_NAME_PATTERN, PLATFORM_PATTERN, parseDuration, REGISTRY_HOST_PATTERN };

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
