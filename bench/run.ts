/**
 * `npm run bench [-- --quick] [--runs N] [--only P1,P4] [--network shaped|direct|both] [--delay-ms 25]
 *   [--mbit 200] [--tail-size 512k] [--generate-only]`
 *
 * Generates the benchmark images (cached under bench/.data), pushes them to a real registry on loopback,
 * and measures the scenarios P1–P6 with the built CLI against a full pull (skopeo + tar) through a shaping
 * proxy (delay per request and response, bandwidth cap) and without shaping. Prints a table on stdout and
 * writes bench/results/<time>-<preset>.json (and latest-<preset>.json).
 */

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pushImage } from '../test/helpers/oci.js';
import { startRegistry } from '../test/helpers/registry-server.js';
import { fullPull, pick, skopeoVersion } from './baseline.js';
import { manySmallImage, type Preset, realisticImage } from './image-spec.js';
import { type BenchImage, benchImage } from './images.js';
import { hasGnuTime, median, runMeasured } from './measure.js';
import {
  type BaselineRun,
  type NetworkMode,
  type ScenarioResult,
  summarise,
  table,
  targetsFor,
} from './report.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { type ShapingProxy, startShapingProxy } from './shaping-proxy.js';
import { runStarget } from './starget-run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    network: { type: 'string', default: 'both' },
    'delay-ms': { type: 'string', default: '25' },
    mbit: { type: 'string', default: '200' },
    'startup-runs': { type: 'string' },
    'generate-only': { type: 'boolean', default: false },
    'tail-size': { type: 'string' },
  },
});
const preset: Preset = values.quick ? 'quick' : 'full';
const runs = Number(values.runs ?? (values.quick ? 1 : 3));
const delayMs = Number(values['delay-ms']);
const mbit = Number(values.mbit);
const only = values.only === undefined ? undefined : new Set(values.only.split(','));
const scenarios = SCENARIOS.filter((s) => only === undefined || only.has(s.id));
const modes: NetworkMode[] =
  values.network === 'shaped' ? ['shaped'] : values.network === 'direct' ? ['direct'] : ['shaped', 'direct'];
const cli = join(root, 'dist', 'cli', 'main.js');

async function main(): Promise<void> {
  const skopeo = skopeoVersion();
  if (!existsSync(cli))
    throw new Error(`${cli} is missing: run \`npm run build\` first (npm run bench does)`);
  if (!hasGnuTime)
    log('note: /usr/bin/time (GNU time) not found, peak RSS will not be measured (apt-get install time)');

  const images: Record<Scenario['image'], BenchImage> = {
    realistic: await benchImage(realisticImage(preset), join(root, 'bench', '.data'), log),
    manySmall: await benchImage(manySmallImage(preset), join(root, 'bench', '.data'), log),
  };
  for (const image of Object.values(images)) {
    const blobs = image.layers.reduce((n, l) => n + l.size, 0);
    log(
      `${image.spec.repo}:${image.spec.tag}: ${image.layers.length} layers, ${image.files.size} files, ${(blobs / 1e6).toFixed(1)} MB compressed`,
    );
  }

  if (values['generate-only']) return;

  const work = await mkdtemp(join(tmpdir(), 'starget-bench-'));
  const registry = await startRegistry();
  const results: ScenarioResult[] = [];
  try {
    for (const image of Object.values(images)) {
      log(`pushing ${image.spec.repo}:${image.spec.tag}…`);
      await pushImage(registry.url, image.spec.repo, image.spec.tag, image.built);
    }
    for (const mode of modes) {
      const proxy = await startShapingProxy(
        mode === 'shaped'
          ? {
              upstream: registry.url,
              requestDelayMs: delayMs,
              responseDelayMs: delayMs,
              bandwidthBitsPerSecond: mbit * 1e6,
            }
          : {
              upstream: registry.url,
              requestDelayMs: 0,
              responseDelayMs: 0,
              connectDelayMs: 0,
              bandwidthBitsPerSecond: 0,
            },
      );
      try {
        results.push(...(await runMode(mode, proxy, images, work)));
      } finally {
        await proxy.close();
      }
    }
  } finally {
    await registry.close();
    await rm(work, { recursive: true, force: true });
  }

  const startup = await measureStartup();
  process.stdout.write(`\nstarget benchmark (${preset}; ${runs} run(s) per figure, medians)\n`);
  process.stdout.write(
    `shaped network: ${delayMs} ms per request and per response, +1 round trip per new connection, ${mbit} Mbit/s\n\n`,
  );
  if (preset === 'quick') {
    process.stdout.write(
      'quick preset: the images are small, so the targets (set for the full images) are not meaningful\n',
    );
  }
  process.stdout.write(`${table(results)}\n\n`);
  const startupRatio = startup.helpMs / startup.nodeMs;
  process.stdout.write(
    `start-up: starget --help ${Math.round(startup.helpMs)} ms, node -e 0 ${Math.round(startup.nodeMs)} ms: ` +
      `${startupRatio.toFixed(2)}× (target ≤ 3×: ${startupRatio <= 3 ? 'ok' : 'MISS'})\n`,
  );

  const report = {
    date: new Date().toISOString(),
    preset,
    runs,
    node: process.version,
    skopeo,
    network: { delayMs, mbit, connectDelayMs: 2 * delayMs },
    tailSize: values['tail-size'] ?? 'default',
    images: Object.fromEntries(
      Object.entries(images).map(([key, image]) => [
        key,
        {
          reference: `${image.spec.repo}:${image.spec.tag}`,
          files: image.files.size,
          layers: image.layers.map((l) => ({
            digest: l.digest,
            size: l.size,
            tocOffset: l.tocOffset,
            tailBytes: l.tailBytes,
          })),
        },
      ]),
    ),
    startup: { ...startup, ratio: startupRatio },
    results,
  };
  const dir = join(root, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${report.date.replace(/[:.]/g, '-')}-${preset}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, `latest-${preset}.json`), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

async function runMode(
  mode: NetworkMode,
  proxy: ShapingProxy,
  images: Record<Scenario['image'], BenchImage>,
  work: string,
): Promise<ScenarioResult[]> {
  const baseline = await runBaselines(mode, proxy, images, work);
  const emptyDockerConfig = join(work, 'docker-config');
  await mkdir(emptyDockerConfig, { recursive: true });
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const image = images[scenario.image];
    const reference = `${proxy.host}/${image.spec.repo}:${image.spec.tag}`;
    const cacheDir = join(work, `cache-${mode}-${scenario.id}`);
    const env = {
      ...process.env,
      XDG_CACHE_HOME: cacheDir,
      STARGET_CACHE_DIR: join(cacheDir, 'starget'),
      DOCKER_CONFIG: emptyDockerConfig,
      XDG_CONFIG_HOME: emptyDockerConfig,
      STARGET_CONFIG: undefined,
      NO_COLOR: '1',
    };
    const outDir = join(work, 'out');
    const common = {
      cli,
      scenario,
      image,
      reference,
      outDir,
      env,
      proxy,
      extraArgs: [
        '--plain-http',
        '--no-progress',
        ...(values['tail-size'] === undefined ? [] : ['--tail-size', values['tail-size']]),
      ],
    };
    if (scenario.warm) {
      await rm(cacheDir, { recursive: true, force: true });
      const primed = await runStarget(common);
      if (primed.error !== undefined) log(`  ${scenario.id} priming run failed: ${primed.error}`);
    }
    const runsDone = [];
    for (let i = 0; i < runs; i++) {
      if (!scenario.warm) await rm(cacheDir, { recursive: true, force: true });
      await rm(outDir, { recursive: true, force: true });
      await mkdir(outDir, { recursive: true });
      const run = await runStarget({ ...common, keepLog: i === 0 });
      log(
        `  ${mode} ${scenario.id} run ${i + 1}: ${Math.round(run.wallMs)} ms, ${run.requests} requests, ` +
          `${run.bodyBytes} B${run.error === undefined ? '' : `, ERROR ${run.error}`}`,
      );
      runsDone.push(run);
    }
    await rm(outDir, { recursive: true, force: true });
    results.push(judge(mode, scenario, image, runsDone, baseline.get(scenario.id)!));
  }
  return results;
}

function judge(
  mode: NetworkMode,
  scenario: Scenario,
  image: BenchImage,
  runsDone: ScenarioResult['runs'],
  baselineRuns: BaselineRun[],
): ScenarioResult {
  const s = summarise(runsDone);
  const baseline = {
    runs: baselineRuns,
    totalMs: median(baselineRuns.map((b) => b.totalMs)),
    pullMs: median(baselineRuns.map((b) => b.pullMs)),
    extractMs: median(baselineRuns.map((b) => b.extractMs)),
    bodyBytes: median(baselineRuns.map((b) => b.bodyBytes)),
  };
  const neededBytes = {
    tails: scenario.warm ? 0 : image.layers.reduce((n, l) => n + l.tailBytes, 0),
    content: scenario.contentBytes(image),
  };
  const result: ScenarioResult = {
    id: scenario.id,
    title: scenario.title,
    mode,
    runs: runsDone,
    errors: runsDone.flatMap((r) => (r.error === undefined ? [] : [r.error])),
    baseline,
    neededBytes,
    targets: [],
  };
  if (s === undefined) return result;
  result.starget = s;
  result.timeRatio = s.wallMs / baseline.totalMs;
  result.bytesRatio = s.bodyBytes / baseline.bodyBytes;
  result.targets = targetsFor({
    id: scenario.id,
    s,
    timeRatio: result.timeRatio,
    layers: image.layers.length,
    needed: neededBytes,
    blobsTotal: image.layers.reduce((n, l) => n + l.size, 0),
    directoryFiles: scenario.expect(image).files ?? 0,
  });
  return result;
}

/**
 * The full pull of each image, `runs` times, and for each scenario the pick after it:
 * baseline(P) = skopeo copy + tar -xzf of every layer + copying (or listing) what P asks for.
 */
async function runBaselines(
  mode: NetworkMode,
  proxy: ShapingProxy,
  images: Record<Scenario['image'], BenchImage>,
  work: string,
): Promise<Map<Scenario['id'], BaselineRun[]>> {
  const byScenario = new Map<Scenario['id'], BaselineRun[]>(scenarios.map((s) => [s.id, []]));
  for (const [key, image] of Object.entries(images) as Array<[Scenario['image'], BenchImage]>) {
    const mine = scenarios.filter((s) => s.image === key);
    if (mine.length === 0) continue;
    for (let i = 0; i < runs; i++) {
      proxy.reset();
      const pulled = await fullPull(`${proxy.host}/${image.spec.repo}:${image.spec.tag}`, join(work, 'pull'));
      const counters = proxy.counters();
      log(
        `  ${mode} full pull of ${image.spec.repo} run ${i + 1}: pull ${Math.round(pulled.pull.wallMs)} ms, ` +
          `extract ${Math.round(pulled.extractMs)} ms, ${counters.requests} requests, ${counters.bodyBytes} B`,
      );
      for (const scenario of mine) {
        const picked =
          scenario.pick === undefined && !scenario.list
            ? undefined
            : await pick(pulled.rootfs, scenario.pick, join(work, 'pick'));
        const pickMs = picked?.wallMs ?? 0;
        byScenario.get(scenario.id)!.push({
          pullMs: pulled.pull.wallMs,
          extractMs: pulled.extractMs,
          pickMs,
          totalMs: pulled.pull.wallMs + pulled.extractMs + pickMs,
          requests: counters.requests,
          bodyBytes: counters.bodyBytes,
        });
      }
      await rm(join(work, 'pull'), { recursive: true, force: true });
      await rm(join(work, 'pick'), { recursive: true, force: true });
    }
  }
  return byScenario;
}

/** Median start-up of `starget --help` and of `node -e 0`. */
async function measureStartup(): Promise<{ helpMs: number; nodeMs: number; runs: number }> {
  const n = Number(values['startup-runs'] ?? (values.quick ? 5 : 15));
  const help: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < n; i++) {
    help.push((await runMeasured(process.execPath, [cli, '--help'])).wallMs);
    bare.push((await runMeasured(process.execPath, ['-e', '0'])).wallMs);
  }
  return { helpMs: median(help), nodeMs: median(bare), runs: n };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
