/**
 * Builds the benchmark images with the test eStargz writer, caching the blobs under bench/.data so a
 * rerun only reads them back (the key covers the spec, the writer options and a generator version).
 */

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type WriterEntry, writeEstargz } from '../test/helpers/estargz-writer.js';
import { type BuiltImage, buildImage } from '../test/helpers/oci.js';
import { binaryBytes, noiseBytes, textBytes } from './content.js';
import type { ImageSpec, LayerSpec, SpecFile } from './image-spec.js';
import { type LayerFacts, layerFacts } from './layer-facts.js';

/** Bump when the content generators change, so cached blobs are rebuilt. */
const GENERATOR_VERSION = 1;
const WRITER_OPTIONS = { level: 6 } as const;

export interface BenchImage {
  spec: ImageSpec;
  built: BuiltImage;
  layers: LayerFacts[];
  /** regular files and their sizes by name, over all layers (the later layer wins) */
  files: Map<string, number>;
}

interface LayerMeta {
  digest: string;
  tocDigest: string;
  uncompressedSize: number;
}

function contentOf(file: SpecFile): Buffer {
  const seed = `${file.name}#${file.size}`;
  if (file.kind === 'text') return textBytes(seed, file.size);
  if (file.kind === 'binary') return binaryBytes(seed, file.size);
  return noiseBytes(seed, file.size);
}

/** Writer entries for a layer: each directory once, before what it holds, then the files in spec order. */
function writerEntries(layer: LayerSpec): WriterEntry[] {
  const entries: WriterEntry[] = [];
  const dirs = new Set<string>();
  for (const file of layer.files) {
    const parts = file.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        entries.push({ type: 'dir', name: dir, mode: 0o755 });
      }
    }
    entries.push({ type: 'reg', name: file.name, mode: file.mode, content: contentOf(file) });
  }
  return entries;
}

function cacheKey(spec: ImageSpec): string {
  return createHash('sha256')
    .update(JSON.stringify({ GENERATOR_VERSION, WRITER_OPTIONS, spec }))
    .digest('hex')
    .slice(0, 16);
}

async function loadLayer(
  dir: string,
  layer: LayerSpec,
): Promise<{ blob: Buffer; meta: LayerMeta } | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, `${layer.name}.json`), 'utf8')) as LayerMeta;
    const blob = await readFile(join(dir, `${layer.name}.blob`));
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    return digest === meta.digest ? { blob, meta } : undefined;
  } catch {
    return undefined;
  }
}

async function saveLayer(dir: string, layer: LayerSpec, blob: Buffer, meta: LayerMeta): Promise<void> {
  await mkdir(dir, { recursive: true });
  const blobPath = join(dir, `${layer.name}.blob`);
  await writeFile(`${blobPath}.tmp`, blob);
  await rename(`${blobPath}.tmp`, blobPath);
  await writeFile(join(dir, `${layer.name}.json`), JSON.stringify(meta));
}

/** The image for `spec`, from bench/.data when generated before, else written now and saved there. */
export async function benchImage(
  spec: ImageSpec,
  dataDir: string,
  log: (line: string) => void,
): Promise<BenchImage> {
  const dir = join(dataDir, `${spec.repo.replace(/\W+/g, '-')}-${spec.tag}-${cacheKey(spec)}`);
  const layers: Array<{ blob: Buffer; meta: LayerMeta }> = [];
  for (const layer of spec.layers) {
    let got = await loadLayer(dir, layer);
    if (got === undefined) {
      const start = performance.now();
      log(`generating ${spec.repo}:${spec.tag} layer ${layer.name} (${layer.files.length} files)…`);
      const written = writeEstargz(writerEntries(layer), WRITER_OPTIONS);
      got = {
        blob: written.blob,
        meta: {
          digest: written.digest,
          tocDigest: written.tocDigest,
          uncompressedSize: written.uncompressedSize,
        },
      };
      await saveLayer(dir, layer, got.blob, got.meta);
      log(
        `  ${(got.blob.length / 1e6).toFixed(1)} MB in ${((performance.now() - start) / 1000).toFixed(1)} s`,
      );
    }
    layers.push(got);
  }
  const built = buildImage({
    layers: layers.map(({ blob, meta }) => ({
      data: blob,
      annotations: {
        'containerd.io/snapshot/stargz/toc.digest': meta.tocDigest,
        'io.containers.estargz.uncompressed-size': String(meta.uncompressedSize),
      },
    })),
  });
  const files = new Map<string, number>();
  for (const layer of spec.layers) for (const file of layer.files) files.set(file.name, file.size);
  return { spec, built, layers: layers.map(({ blob, meta }) => layerFacts(meta.digest, blob)), files };
}
