/**
 * `get` for the fault tests, built from the library's real parts (RegistryClient → openLayer → ImageIndex →
 * Downloader) the way the `starget get` facade does it. Used in-process and by `_get-child.ts`.
 */

import { Downloader } from '../../../src/download/downloader.js';
import type { DownloadOptions, DownloadResult } from '../../../src/download/job.js';
import { openLayer } from '../../../src/estargz/layer.js';
import { ImageIndex } from '../../../src/image/image-index.js';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import type { BlobSource } from '../../../src/registry/types.js';

const TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';

export interface GetRequest {
  /** `HOST:PORT/repo:tag` */
  image: string;
  patterns: string[];
  outDir: string;
  client?: RegistryClientOptions;
  download?: Omit<DownloadOptions, 'onEvent' | 'signal'>;
  signal?: AbortSignal;
  onEvent?: DownloadOptions['onEvent'];
}

/** Extracts the files matching `patterns` of `image` into `outDir`. */
export async function getImage(request: GetRequest): Promise<DownloadResult> {
  const client = new RegistryClient({
    plainHttp: true,
    platform: { os: 'linux', architecture: 'amd64' },
    ...request.client,
  });
  try {
    const reference = parseReference(request.image);
    const signal = request.signal;
    const image = await client.getManifest(reference, { signal });
    const sources = new Map<string, BlobSource>();
    const layers = [];
    for (const descriptor of image.layers) {
      const blob = client.blob(reference, descriptor);
      sources.set(descriptor.digest, blob);
      const expectedTocDigest = descriptor.annotations?.[TOC_DIGEST];
      const layer = await openLayer(blob, { signal, ...(expectedTocDigest ? { expectedTocDigest } : {}) });
      layers.push({ digest: descriptor.digest, toc: layer.toc, descriptor });
    }
    const index = new ImageIndex(layers);
    const entries = index.filterFiles(request.patterns);
    const downloader = new Downloader({ sources });
    return await downloader.startDownload({
      entries,
      outDir: request.outDir,
      options: { ...request.download, signal, onEvent: request.onEvent },
    }).done;
  } finally {
    await client.close();
  }
}
