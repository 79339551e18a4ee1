/** The platform an image config names (`os`, `architecture`, `variant`). */

import { createHash } from 'node:crypto';
import { StargzError } from '../errors.js';
import type { RegistryClient } from '../registry/client.js';
import type { Descriptor, ImageReference, Platform } from '../registry/types.js';

/**
 * Fetches the image config `config` of `reference` (`imageName` for messages) and returns the platform it
 * names: undefined when it is over 4 MiB, not JSON, or names none. A sha256 digest is checked
 * (E_DIGEST_MISMATCH).
 */
export async function readConfigPlatform(
  client: RegistryClient,
  reference: ImageReference,
  config: Descriptor,
  imageName: string,
  signal: AbortSignal | undefined,
): Promise<Platform | undefined> {
  const { digest, size } = config;
  if (size > 4 * 1024 * 1024) return undefined;
  const response = await client.readRange(reference, digest, 0, size, {
    size,
    ...(signal ? { signal } : {}),
  });
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks).subarray(0, size);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (digest.startsWith('sha256:') && actual !== digest) {
    throw new StargzError(
      'E_DIGEST_MISMATCH',
      `the image config of ${imageName} does not match its digest ${digest}`,
      {
        details: { expected: digest, actual },
      },
    );
  }
  try {
    const json = JSON.parse(bytes.toString('utf8')) as {
      os?: unknown;
      architecture?: unknown;
      variant?: unknown;
    };
    if (typeof json.os !== 'string' || typeof json.architecture !== 'string') return undefined;
    return typeof json.variant === 'string' && json.variant !== ''
      ? { os: json.os, architecture: json.architecture, variant: json.variant }
      : { os: json.os, architecture: json.architecture };
  } catch {
    return undefined;
  }
}
