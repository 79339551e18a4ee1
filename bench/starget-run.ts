/**
 * One measured run of the built starget CLI (`node dist/cli/main.js …`) through the proxy: wall time,
 * peak RSS, and from the proxy's counters the requests, connections and bytes, split into TOC bytes
 * (bytes of layer tails) and the rest. The output is checked before the run counts.
 */

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchImage } from './images.js';
import type { LayerFacts } from './layer-facts.js';
import { tailOverlap } from './layer-facts.js';
import { runMeasured } from './measure.js';
import type { Scenario } from './scenarios.js';
import type { ProxyCounters, ShapingProxy } from './shaping-proxy.js';

export interface RunResult {
  wallMs: number;
  peakRssBytes?: number;
  requests: number;
  manifestRequests: number;
  blobRequests: number;
  connections: number;
  maxRequestsPerConnection: number;
  /** response body bytes received */
  bodyBytes: number;
  /** of those, bytes that lie in layer tails (TOC member and footer) */
  tocBytes: number;
  /** set when the run failed or its output was wrong */
  error?: string;
  /** the requests of the run, in order (kept for the first run of a scenario, for tuning) */
  log?: Array<{ c: number; m: string; what: string; range?: string; status: number; bytes: number }>;
}

async function walk(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

/** Bytes of blob responses that fell in layer tails, from the proxy's request log. */
export function tocBytesOf(counters: ProxyCounters, layers: LayerFacts[]): number {
  const byDigest = new Map(layers.map((layer) => [layer.digest, layer]));
  let total = 0;
  for (const record of counters.log) {
    if (record.method !== 'GET' || record.bytes === 0) continue;
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(record.path)?.[1];
    const layer = digest === undefined ? undefined : byDigest.get(digest);
    if (layer === undefined) continue;
    const range = record.status === 206 ? /^bytes=(\d+)-(\d*)/.exec(record.range ?? '') : null;
    if (range === null) {
      total += tailOverlap(layer, 0, record.bytes);
      continue;
    }
    const start = Number(range[1]);
    total += tailOverlap(layer, start, start + record.bytes);
  }
  return total;
}

function shortLog(counters: ProxyCounters): NonNullable<RunResult['log']> {
  return counters.log.map((r) => {
    const what = r.path
      .replace(/^\/v2\/.+?\/(manifests|blobs)\//, '$1/')
      .replace(/(sha256:[0-9a-f]{12})[0-9a-f]+/, '$1');
    const entry: NonNullable<RunResult['log']>[number] = {
      c: r.connection,
      m: r.method,
      what,
      status: r.status,
      bytes: r.bytes,
    };
    if (r.range !== undefined) entry.range = r.range;
    return entry;
  });
}

export interface StargetRunOptions {
  cli: string;
  scenario: Scenario;
  image: BenchImage;
  reference: string;
  outDir: string;
  env: NodeJS.ProcessEnv;
  proxy: ShapingProxy;
  extraArgs: string[];
  keepLog?: boolean;
}

/** Runs the scenario once and checks the output. */
export async function runStarget(o: StargetRunOptions): Promise<RunResult> {
  o.proxy.reset();
  const args = [o.cli, ...o.scenario.args(o.reference, o.outDir), ...o.extraArgs];
  const m = await runMeasured(process.execPath, args, { env: o.env, rss: true });
  const counters = o.proxy.counters();
  const result: RunResult = {
    wallMs: m.wallMs,
    requests: counters.requests,
    manifestRequests: counters.byKind.manifest,
    blobRequests: counters.byKind.blob,
    connections: counters.connections,
    maxRequestsPerConnection: counters.maxRequestsPerConnection,
    bodyBytes: counters.bodyBytes,
    tocBytes: tocBytesOf(counters, o.image.layers),
  };
  if (m.peakRssBytes !== undefined) result.peakRssBytes = m.peakRssBytes;
  if (o.keepLog === true) result.log = shortLog(counters);
  if (m.exitCode !== 0) {
    result.error = `exit ${m.exitCode}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    return result;
  }
  const expected = o.scenario.expect(o.image);
  if (expected.lines !== undefined) {
    if (m.stdoutLines < expected.lines)
      result.error = `listed ${m.stdoutLines} lines, expected ≥ ${expected.lines}`;
    return result;
  }
  const got = await walk(o.outDir);
  if (got.files !== expected.files || got.bytes !== expected.bytes) {
    result.error = `wrote ${got.files} files / ${got.bytes} B, expected ${expected.files} / ${expected.bytes} B`;
  }
  return result;
}
