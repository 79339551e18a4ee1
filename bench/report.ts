/** Summaries, target checks and the stdout table of a benchmark run. */

import { median } from './measure.js';
import type { ScenarioId } from './scenarios.js';
import type { RunResult } from './starget-run.js';

export type NetworkMode = 'shaped' | 'direct';

export interface BaselineRun {
  pullMs: number;
  extractMs: number;
  pickMs: number;
  totalMs: number;
  requests: number;
  bodyBytes: number;
}

/** The medians of a scenario's runs: a run's figures without its error and request log. */
export type Summary = Omit<RunResult, 'error' | 'log'>;

export interface Target {
  name: string;
  limit: string;
  value: string;
  met: boolean;
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  mode: NetworkMode;
  runs: RunResult[];
  errors: string[];
  starget?: Summary;
  baseline: { runs: BaselineRun[]; totalMs: number; pullMs: number; extractMs: number; bodyBytes: number };
  /** starget's median wall time over the baseline's */
  timeRatio?: number;
  bytesRatio?: number;
  /** what a perfect client needs: all layer tails + the content's members */
  neededBytes: { tails: number; content: number };
  targets: Target[];
}

/** Medians over the successful runs (peak RSS: the highest seen). */
export function summarise(runs: RunResult[]): Summary | undefined {
  const ok = runs.filter((r) => r.error === undefined);
  if (ok.length === 0) return undefined;
  const med = (pick: (r: RunResult) => number) => median(ok.map(pick));
  const rss = ok.map((r) => r.peakRssBytes).filter((v): v is number => v !== undefined);
  const summary: Summary = {
    wallMs: med((r) => r.wallMs),
    requests: med((r) => r.requests),
    manifestRequests: med((r) => r.manifestRequests),
    blobRequests: med((r) => r.blobRequests),
    connections: med((r) => r.connections),
    maxRequestsPerConnection: Math.max(...ok.map((r) => r.maxRequestsPerConnection)),
    bodyBytes: med((r) => r.bodyBytes),
    tocBytes: med((r) => r.tocBytes),
  };
  if (rss.length > 0) summary.peakRssBytes = Math.max(...rss);
  return summary;
}

export const mb = (bytes: number): string =>
  bytes >= 1e6
    ? `${(bytes / 1e6).toFixed(1)} MB`
    : bytes >= 1e3
      ? `${(bytes / 1e3).toFixed(1)} kB`
      : `${bytes} B`;
const ms = (value: number): string =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
const ratio = (value: number | undefined): string =>
  value === undefined ? '-' : value < 0.01 ? `${value.toFixed(4)}×` : `${value.toFixed(2)}×`;

interface TargetInput {
  id: ScenarioId;
  s: Summary;
  timeRatio: number;
  layers: number;
  needed: { tails: number; content: number };
  blobsTotal: number;
  directoryFiles: number;
}

/** The targets for one scenario (judged on the shaped network). */
export function targetsFor(t: TargetInput): Target[] {
  const targets: Target[] = [];
  const check = (name: string, limit: string, value: string, met: boolean) =>
    targets.push({ name, limit, value, met });
  const rss = t.s.peakRssBytes;
  switch (t.id) {
    case 'P1': {
      const maxRequests = 2 + 2 + t.layers + 1;
      check('requests', `≤ ${maxRequests}`, String(t.s.requests), t.s.requests <= maxRequests);
      const limit = 1.2 * (t.needed.tails + t.needed.content);
      check('bytes', `≤ ${mb(limit)}`, mb(t.s.bodyBytes), t.s.bodyBytes <= limit);
      check('time vs full pull', '≤ 0.05× (20× faster)', ratio(t.timeRatio), t.timeRatio <= 0.05);
      break;
    }
    case 'P2': {
      const maxRequests = Math.floor(t.directoryFiles / 50);
      check('requests', `≤ ${maxRequests} (files/50)`, String(t.s.requests), t.s.requests <= maxRequests);
      check('time vs full pull', '≤ 0.5×', ratio(t.timeRatio), t.timeRatio <= 0.5);
      break;
    }
    case 'P3': {
      check('time vs full pull', '≤ 1.0×', ratio(t.timeRatio), t.timeRatio <= 1.0);
      const limit = 1.05 * t.blobsTotal;
      check('bytes', `≤ ${mb(limit)} (1.05× blobs)`, mb(t.s.bodyBytes), t.s.bodyBytes <= limit);
      break;
    }
    case 'P4': {
      check('TOC bytes', '0', mb(t.s.tocBytes), t.s.tocBytes === 0);
      check('requests', '≤ 5 (auth ≤ 2 + manifest ≤ 2 + 1 content)', String(t.s.requests), t.s.requests <= 5);
      break;
    }
    case 'P5':
      check('peak RSS', '≤ 300 MB', rss === undefined ? 'n/a' : mb(rss), rss !== undefined && rss <= 300e6);
      break;
    case 'P6':
      check('peak RSS', '≤ 100 MB', rss === undefined ? 'n/a' : mb(rss), rss !== undefined && rss <= 100e6);
      break;
  }
  return targets;
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The stdout table: one row per scenario and network. */
export function table(results: ScenarioResult[]): string {
  const rows: string[][] = [
    [
      'scn',
      'network',
      'starget',
      'full pull',
      'ratio',
      'reqs',
      'conns',
      'bytes',
      'TOC bytes',
      'needed',
      'peak RSS',
      'targets',
    ],
  ];
  for (const r of results) {
    const s = r.starget;
    const targets =
      r.mode === 'direct'
        ? '(not judged)'
        : r.targets.length === 0
          ? '-'
          : r.targets.map((t) => `${t.met ? 'ok' : 'MISS'} ${t.name} ${t.value} (${t.limit})`).join('; ');
    rows.push([
      r.id,
      r.mode,
      s === undefined ? `FAILED: ${r.errors[0] ?? ''}` : ms(s.wallMs),
      ms(r.baseline.totalMs),
      ratio(r.timeRatio),
      s === undefined ? '-' : String(s.requests),
      s === undefined ? '-' : String(s.connections),
      s === undefined ? '-' : mb(s.bodyBytes),
      s === undefined ? '-' : mb(s.tocBytes),
      mb(r.neededBytes.tails + r.neededBytes.content),
      s?.peakRssBytes === undefined ? '-' : mb(s.peakRssBytes),
      targets,
    ]);
  }
  return pad(rows);
}
