/**
 * Platforms (`os/arch[/variant]`) as OCI names them: parsing, the host's platform, normalisation of
 * architecture aliases, and choosing an index entry. Pure functions.
 */

import { StargzError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

/** Node's `process.arch` names to OCI architecture names (and the variant a host of that kind runs). */
const NODE_ARCH_TO_OCI: Record<string, Platform['architecture']> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
};

/** Lowercases, maps aliases (`x86_64` → amd64, `aarch64` → arm64) and fills arm64's implied `v8`. */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[architecture];
  if (alias !== undefined) {
    architecture = alias.architecture;
    variant = variant ?? alias.variant;
  }
  if (architecture === 'arm64' && variant === undefined) variant = 'v8';
  if (architecture === 'arm' && variant !== undefined && /^\d+$/.test(variant)) variant = `v${variant}`;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/**
 * The platform of the machine starget runs on, in OCI names: `linux/amd64` on x86-64. The OS is `linux` on
 * every host (container images for macOS hosts are linux images) except Windows.
 */
export function hostPlatform(arch: string = process.arch, nodePlatform: string = process.platform): Platform {
  const architecture = NODE_ARCH_TO_OCI[arch] ?? arch;
  const os = nodePlatform === 'win32' ? 'windows' : 'linux';
  if (architecture === 'arm64') return { os, architecture, variant: 'v8' };
  if (architecture === 'arm') return { os, architecture, variant: 'v7' };
  return { os, architecture };
}

/** Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`). Throws `E_USAGE` on anything else. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  const valid =
    parts.length >= 2 && parts.length <= 3 && parts.every((part) => /^[A-Za-z0-9._-]+$/.test(part));
  if (!valid) {
    throw new StargzError('E_USAGE', `invalid platform "${text}": use os/arch[/variant], e.g. linux/arm64`, {
      details: { platform: text },
    });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return platform.variant
    ? `${platform.os}/${platform.architecture}/${platform.variant}`
    : `${platform.os}/${platform.architecture}`;
}

/**
 * True when an index entry's platform satisfies the wanted one: same OS and architecture; a wanted variant
 * must match (arm64's `v8` also matches an entry without variant); no wanted variant matches any.
 */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const want = normalizePlatform(wanted);
  const have = normalizePlatform(candidate);
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (wanted.variant === undefined || wanted.variant === '') return true;
  return want.variant === have.variant;
}

/** Attestations and other non-image entries an index may carry (BuildKit writes `unknown/unknown`). */
function isImageEntry(descriptor: Descriptor): boolean {
  if (descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return false;
  const platform = descriptor.platform;
  return platform !== undefined && platform.os !== 'unknown' && platform.architecture !== 'unknown';
}

/** The image platforms an index offers, formatted, in index order without duplicates. */
export function availablePlatforms(manifests: readonly Descriptor[]): string[] {
  const seen = new Set<string>();
  for (const descriptor of manifests) {
    if (isImageEntry(descriptor) && descriptor.platform) seen.add(formatPlatform(descriptor.platform));
  }
  return [...seen];
}

/**
 * The index entry for a platform: among matches, an exact variant match first (arm without a variant
 * prefers v7), then the first in index order. Undefined when none matches.
 */
export function selectPlatformManifest(
  manifests: readonly Descriptor[],
  wanted: Platform,
): Descriptor | undefined {
  const candidates = manifests.filter(
    (descriptor) =>
      isImageEntry(descriptor) && descriptor.platform && platformMatches(wanted, descriptor.platform),
  );
  if (candidates.length <= 1) return candidates[0];
  const want = normalizePlatform(wanted);
  // 32-bit arm without a variant means v7, as containerd reads it
  const preferred = want.variant ?? (want.architecture === 'arm' ? 'v7' : undefined);
  return (
    candidates.find(
      (descriptor) => normalizePlatform(descriptor.platform as Platform).variant === preferred,
    ) ?? candidates[0]
  );
}
