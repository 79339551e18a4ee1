/**
 * `node --import tsx bench/serve.ts [--quick]`: for tuning by hand. Pushes the benchmark images to a
 * registry on loopback and keeps it running behind a shaped and a direct proxy until Ctrl-C, printing the
 * image references. Each proxy's request log is printed after every quiet second.
 */

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pushImage } from '../test/helpers/oci.js';
import { startRegistry } from '../test/helpers/registry-server.js';
import { manySmallImage, realisticImage } from './image-spec.js';
import { benchImage } from './images.js';
import { startShapingProxy } from './shaping-proxy.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const preset = values.quick ? 'quick' : 'full';
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const images = [
  await benchImage(realisticImage(preset), join(root, 'bench', '.data'), log),
  await benchImage(manySmallImage(preset), join(root, 'bench', '.data'), log),
];
const registry = await startRegistry();
for (const image of images) await pushImage(registry.url, image.spec.repo, image.spec.tag, image.built);
const shaped = await startShapingProxy({ upstream: registry.url });
const direct = await startShapingProxy({
  upstream: registry.url,
  requestDelayMs: 0,
  responseDelayMs: 0,
  connectDelayMs: 0,
  bandwidthBitsPerSecond: 0,
});
for (const [name, proxy] of [
  ['shaped', shaped],
  ['direct', direct],
] as const) {
  for (const image of images) log(`${name}: ${proxy.host}/${image.spec.repo}:${image.spec.tag}`);
}
log('ready (Ctrl-C stops)');
const shown = [0, 0];
setInterval(() => {
  [shaped, direct].forEach((proxy, i) => {
    const counters = proxy.counters();
    if (counters.requests === shown[i]) return;
    shown[i] = counters.requests;
    log(
      `${i === 0 ? 'shaped' : 'direct'}: ${counters.requests} requests, ${counters.connections} connections, ${counters.bodyBytes} B`,
    );
    for (const r of counters.log.slice(-counters.requests)) {
      log(
        `  c${r.connection} ${r.method} ${r.path.replace(/^\/v2\/.+?\//, '').slice(0, 40)} ${r.range ?? ''} ${r.status} ${r.bytes}`,
      );
    }
    proxy.reset();
    shown[i] = 0;
  });
}, 1000);
const stop = async (): Promise<void> => {
  await shaped.close();
  await direct.close();
  await registry.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
