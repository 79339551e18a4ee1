import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { canonicalHost } from '../credentials/registry-host.js';
import { StargzError } from '../errors.js';
import { configFileSchema, REGISTRY_HOST_PATTERN } from './schema.js';
import { SETTING_SPECS, type SettingName, type Settings } from './settings.js';
import type { RegistryConfig, StargetConfig } from './types.js';

export type { RegistryConfig, StargetConfig } from './types.js';
export { EMPTY_CONFIG } from './types.js';

interface Problem {
  line: number;
  key: string;
  message: string;
}

/**
 * Parses and validates config YAML. Syntax errors, unknown keys and wrong types are one E_CONFIG listing
 * each problem as `file:line: key: what is wrong`. Messages never quote values (they may be passwords).
 */
export function parseConfigText(text: string, path: string): StargetConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => ({
      line: lineCounter.linePos(error.pos[0]).line,
      key: '',
      message: firstLine(error.message),
    }));
    throw configError(path, problems);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = configFileSchema.safeParse(raw);
  const problems: Problem[] = parsed.success ? [] : parsed.error.issues.flatMap(describeIssue);
  const rawRegistries = (raw as { registries?: unknown }).registries;
  if (typeof rawRegistries === 'object' && rawRegistries !== null && !Array.isArray(rawRegistries)) {
    for (const host of Object.keys(rawRegistries)) {
      if (!REGISTRY_HOST_PATTERN.test(host)) {
        problems.push({
          line: lineOf(doc, lineCounter, ['registries', host], true),
          key: `registries.${host}`,
          message: 'a registry key is host[:port], without scheme or path (e.g. localhost:5000)',
        });
      }
    }
  }
  if (problems.length > 0) {
    throw configError(path, problems.map(withLine(doc, lineCounter)));
  }
  const data = parsed.data!;

  const defaults: Partial<Record<SettingName, unknown>> = {};
  const defaultLines: Partial<Record<SettingName, number>> = {};
  for (const [name, spec] of Object.entries(SETTING_SPECS) as [
    SettingName,
    (typeof SETTING_SPECS)[SettingName],
  ][]) {
    const value = data.defaults?.[spec.fileKey];
    if (value === undefined || value === null) continue;
    defaults[name] = spec.fromFile(value as never);
    defaultLines[name] = lineOf(doc, lineCounter, ['defaults', spec.fileKey], true);
  }

  const registries: RegistryConfig[] = [];
  for (const [host, entry] of Object.entries(data.registries ?? {})) {
    const registry: RegistryConfig = { host, line: lineOf(doc, lineCounter, ['registries', host], true) };
    if (entry?.auth_type !== undefined) registry.authType = entry.auth_type;
    if (entry?.plain_http !== undefined) registry.plainHttp = entry.plain_http;
    if (entry?.insecure !== undefined) registry.insecure = entry.insecure;
    if (entry?.credential_helper !== undefined) registry.credentialHelper = entry.credential_helper;
    if (entry?.username !== undefined) registry.username = entry.username;
    if (entry?.password !== undefined) registry.password = entry.password;
    registries.push(registry);
  }
  const seen = new Map<string, RegistryConfig>();
  for (const registry of registries) {
    const key = canonicalHost(registry.host);
    const earlier = seen.get(key);
    if (earlier) {
      throw configError(path, [
        {
          line: registry.line ?? 0,
          key: `registries.${registry.host}`,
          message: `names the same registry as "${earlier.host}" on line ${earlier.line}`,
        },
      ]);
    }
    seen.set(key, registry);
  }
  return { path, defaults: defaults as Partial<Settings>, defaultLines, registries };
}

// Problems found by zod carry a path; its line is filled in afterwards.
type PathProblem = Problem & { path?: (string | number)[]; atKey?: boolean };

function describeIssue(issue: z.core.$ZodIssue): PathProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      line: 0,
      key: [...path, key].join('.'),
      message: `unknown key${hintFor(path)}`,
      path: [...path, key],
      atKey: true,
    }));
  }
  return [{ line: 0, key: path.join('.') || '(top level)', message: cleanMessage(issue.message), path }];
}

function withLine(doc: Document, lineCounter: LineCounter) {
  return (problem: PathProblem): Problem => {
    if (problem.path === undefined || problem.line !== 0) return problem;
    return { ...problem, line: lineOf(doc, lineCounter, problem.path, problem.atKey ?? false) };
  };
}

function hintFor(path: (string | number)[]): string {
  if (path.length === 0) return ' (the file has `defaults` and `registries`)';
  if (path[0] === 'defaults') {
    const keys = Object.values(SETTING_SPECS).map((s) => s.fileKey);
    return ` (defaults takes ${keys.join(', ')})`;
  }
  if (path[0] === 'registries') {
    return ' (a registry takes auth_type, plain_http, insecure, credential_helper, username, password)';
  }
  return '';
}

/** The 1-based line of the node at `path` (of its key with `atKey`), or of the deepest node that exists. */
function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let position = (node as Node | null)?.range?.[0] ?? 0;
  for (const [index, segment] of path.entries()) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
    if (!pair) break;
    const keyNode = pair.key as Node;
    const last = index === path.length - 1;
    position = keyNode.range?.[0] ?? position;
    if (last && !atKey && pair.value && (pair.value as Node).range) position = (pair.value as Node).range![0];
    node = pair.value;
  }
  return lineCounter.linePos(position).line;
}

function cleanMessage(message: string): string {
  return message.replace(/^Invalid (input|option): /, '');
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function configError(path: string, problems: Problem[]): StargzError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const lines = sorted.map((p) => `${path}:${p.line}: ${p.key ? `${p.key}: ` : ''}${p.message}`);
  return new StargzError('E_CONFIG', `invalid config file ${path}\n${lines.join('\n')}`, {
    details: { path, problems: sorted.map(({ line, key, message }) => ({ line, key, message })) },
  });
}
