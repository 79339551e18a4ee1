/**
 * The baseline: a full pull as users do it today. `skopeo copy docker://… dir:…` fetches every blob,
 * `tar -xzf` unpacks every layer in order, then the wanted path is picked out of the tree.
 */

import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Measured, mustSucceed, runMeasured } from './measure.js';

export const SKOPEO_HINT =
  'the baseline needs skopeo: `sudo apt-get install skopeo` (Debian/Ubuntu), `brew install skopeo` (macOS), ' +
  'or see https://github.com/containers/skopeo/blob/main/install.md';

/** The skopeo version line, or throws with how to install it. */
export function skopeoVersion(): string {
  try {
    return execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(SKOPEO_HINT);
  }
}

export interface PulledImage {
  pull: Measured;
  extractMs: number;
  rootfs: string;
}

/** Pulls `reference` (`host:port/repo:tag`, plain HTTP) into `workDir` and unpacks every layer. */
export async function fullPull(reference: string, workDir: string): Promise<PulledImage> {
  const blobsDir = join(workDir, 'pulled');
  const rootfs = join(workDir, 'rootfs');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });
  const pull = mustSucceed(
    'skopeo copy',
    await runMeasured(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        `docker://${reference}`,
        `dir:${blobsDir}`,
      ],
      { rss: true },
    ),
  );
  const manifest = JSON.parse(await readFile(join(blobsDir, 'manifest.json'), 'utf8')) as {
    layers: Array<{ digest: string }>;
  };
  let extractMs = 0;
  for (const layer of manifest.layers) {
    const file = join(blobsDir, layer.digest.replace(/^sha256:/, ''));
    const m = mustSucceed('tar -xzf', await runMeasured('tar', ['-xzf', file, '-C', rootfs]));
    extractMs += m.wallMs;
  }
  return { pull, extractMs, rootfs };
}

/** Copies `path` (a file or a directory) out of the unpacked tree; for `undefined`, lists the whole tree. */
export async function pick(rootfs: string, path: string | undefined, outDir: string): Promise<Measured> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  if (path === undefined) return mustSucceed('find', await runMeasured('find', [rootfs]));
  return mustSucceed('cp', await runMeasured('cp', ['-a', join(rootfs, path), outDir]));
}
