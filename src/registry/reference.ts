/**
 * Image references in docker's grammar: `[registry/]repository[:tag][@digest]`, with docker's defaults
 * (`alpine` → `docker.io/library/alpine:latest`). Pure functions, no network.
 */

import { StargzError } from '../errors.js';
import type { ImageReference } from './types.js';

/** The registry name Docker Hub images carry in references. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const DEFAULT_TAG = 'latest';
const MAX_NAME_LENGTH = 255;

// One component of a repository path: lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT = /^[0-9]{1,5}$/;
const IPV6 = /^\[[0-9a-fA-F:.]+\]$/;
const DIGEST_ALGORITHM = /^[a-z][a-z0-9]*(?:[+._-][a-z][a-z0-9]*)*$/;
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha512: 128 };

function invalid(input: string, problem: string): StargzError {
  return new StargzError('E_INVALID_REFERENCE', `invalid image reference "${input}": ${problem}`, {
    details: { reference: input },
  });
}

/**
 * Checks a digest string (`sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`) and returns a reason
 * when it is not one starget can verify, or undefined when it is fine.
 */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0) return `digest "${digest}" must look like sha256:<hex>`;
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (!DIGEST_ALGORITHM.test(algorithm)) return `digest algorithm "${algorithm}" is malformed`;
  const length = DIGEST_LENGTHS[algorithm];
  if (length === undefined) return `digest algorithm "${algorithm}" is not supported (use sha256 or sha512)`;
  if (!/^[a-f0-9]+$/.test(encoded) || encoded.length !== length) {
    return `digest "${digest}" must have ${length} lowercase hex digits after "${algorithm}:"`;
  }
  return undefined;
}

/** True when `digest` is a well-formed sha256 or sha512 digest. */
export function isValidDigest(digest: string): boolean {
  return digestProblem(digest) === undefined;
}

function checkDomain(input: string, domain: string): void {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    host = close === -1 ? domain : domain.slice(0, close + 1);
    const rest = close === -1 ? '' : domain.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw invalid(input, `registry "${domain}" is malformed`);
      port = rest.slice(1);
    }
    if (!IPV6.test(host)) throw invalid(input, `registry "${domain}" is not a valid IPv6 address`);
  } else {
    const colon = domain.lastIndexOf(':');
    if (colon !== -1) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (host === '' || !host.split('.').every((part) => DOMAIN_COMPONENT.test(part))) {
      throw invalid(input, `registry host "${host}" is not a valid host name`);
    }
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) {
    throw invalid(input, `registry port "${port}" is not a number from 0 to 65535`);
  }
}

function checkRepository(input: string, repository: string): void {
  if (repository === '') throw invalid(input, 'the repository name is empty');
  for (const component of repository.split('/')) {
    if (component === '') throw invalid(input, `repository "${repository}" has an empty path component`);
    if (component !== component.toLowerCase()) {
      throw invalid(input, `repository "${repository}" must be lowercase`);
    }
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        input,
        `repository path component "${component}" may hold only a-z, 0-9 and single separators (. _ __ -)`,
      );
    }
  }
}

/** Splits off the registry the way docker does: a first component with `.` or `:`, `localhost`, or uppercase. */
function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: DOCKER_HUB, remainder: name };
  const first = name.slice(0, slash);
  const looksLikeHost =
    first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
  if (!looksLikeHost) return { domain: DOCKER_HUB, remainder: name };
  return { domain: first, remainder: name.slice(slash + 1) };
}

/**
 * Parses an image reference with docker's grammar and defaults. Docker Hub names get `docker.io` and,
 * without a namespace, `library/`; a reference without tag or digest gets `latest`. When both a tag and a
 * digest are given the digest is what identifies the image. Throws `E_INVALID_REFERENCE` naming the bad part.
 */
export function parseReference(input: string): ImageReference {
  if (input === '') throw invalid(input, 'it is empty');
  if (/\s/.test(input)) throw invalid(input, 'it contains white space');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw invalid(input, 'a reference has no URL scheme (drop "http://" or "https://")');
  }

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const problem = digestProblem(digest);
    if (problem !== undefined) throw invalid(input, problem);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) {
      throw invalid(
        input,
        `tag "${tag}" may hold only letters, digits, _ . - (max 128, not starting with . or -)`,
      );
    }
  }
  if (rest === '') throw invalid(input, 'the repository name is empty');
  if (rest.length > MAX_NAME_LENGTH)
    throw invalid(input, `the name is longer than ${MAX_NAME_LENGTH} characters`);

  const split = splitDomain(rest);
  let registry = split.domain;
  let repository = split.remainder;
  checkDomain(input, registry);
  if (DOCKER_HUB_ALIASES.has(registry.toLowerCase())) {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  checkRepository(input, repository);

  const reference: ImageReference = { registry, repository };
  if (tag !== undefined) reference.tag = tag;
  if (digest !== undefined) reference.digest = digest;
  if (tag === undefined && digest === undefined) reference.tag = DEFAULT_TAG;
  return reference;
}

/** The canonical string for a reference: `registry/repository[:tag][@digest]`. */
export function formatReference(reference: ImageReference): string {
  let out = `${reference.registry}/${reference.repository}`;
  if (reference.tag !== undefined) out += `:${reference.tag}`;
  if (reference.digest !== undefined) out += `@${reference.digest}`;
  return out;
}

/** The tag or digest to ask the registry for: the digest when there is one, else the tag. */
export function referenceTarget(reference: ImageReference): string {
  return reference.digest ?? reference.tag ?? DEFAULT_TAG;
}

/** The host (with port) that serves the registry API: Docker Hub's is `registry-1.docker.io`. */
export function registryApiHost(registry: string): string {
  return DOCKER_HUB_ALIASES.has(registry.toLowerCase()) ? DOCKER_HUB_API_HOST : registry;
}

/** True for `localhost`, `127.0.0.0/8` and `[::1]` (with or without a port): spoken to over plain HTTP by default. */
export function isLoopbackRegistry(registry: string): boolean {
  let host = registry.toLowerCase();
  if (host.startsWith('[')) {
    host = host.slice(0, host.indexOf(']') + 1);
    return host === '[::1]';
  }
  const colon = host.lastIndexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  return host === 'localhost' || host.endsWith('.localhost') || /^127(?:\.\d{1,3}){3}$/.test(host);
}
