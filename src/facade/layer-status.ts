/**
 * Opening an image's layers: footer and TOC read from the layer's tail (or loaded through the cache), the
 * payload bytes read with them held for later, and the TOCs handed to the image index.
 */

import type { ContentCache } from '../cache/content-cache.js';
import type { HeldBytes } from '../cache/held-bytes.js';
import { cachedTocLoader, type LayerTocWithRaw } from '../cache/toc-loader.js';
import { StargzError, toStargzError } from '../errors.js';
import { openLayer } from '../estargz/layer.js';
import type { LayerToc } from '../estargz/types.js';
import type { IndexLayerInput } from '../image/types.js';
import type { Logger } from '../log.js';
import type { RegistryClient } from '../registry/client.js';
import type { ImageReference } from '../registry/types.js';
import type { ImageLayer, LayerStatus, OpenImageOptions } from '../starget-types.js';

/** What opening a layer of an image needs. */
export interface LayerOpenContext {
  client: RegistryClient;
  reference: ImageReference;
  options: OpenImageOptions;
  /** keeps the payload bytes read with the TOC */
  held: HeldBytes;
  cache: ContentCache | undefined;
  logger: Logger;
}

/**
 * Opens one layer (footer and TOC, TOC digest checked against the annotation). A layer without an
 * eStargz footer is reported, not thrown; any other failure rejects.
 */
export async function openLayerStatus(context: LayerOpenContext, layer: ImageLayer): Promise<LayerStatus> {
  const { options, cache, logger } = context;
  const open = (): Promise<LayerToc> => readLayer(context, layer);
  const load =
    options.loadLayerToc ?? (cache ? cachedTocLoader(cache, logger) : (_: ImageLayer, o: typeof open) => o());
  try {
    const started = performance.now();
    const toc = await load(layer, open);
    logger.debug('layer opened', {
      layer: layer.digest,
      footer: toc.footer.kind,
      tocOffset: toc.footer.tocOffset,
      entries: toc.toc.entries.length,
      tocDigest: toc.tocDigest,
      ms: Math.round(performance.now() - started),
    });
    return { layer, estargz: true, toc };
  } catch (error) {
    const failure = toStargzError(error);
    if (failure.code === 'E_NOT_ESTARGZ') return { layer, estargz: false, error: failure };
    throw failure;
  }
}

/** Reads a layer's TOC from its tail; keeps the payload bytes before the TOC, and hands the TOC member to a cache. */
async function readLayer(
  { client, reference, options, held, cache }: LayerOpenContext,
  layer: ImageLayer,
): Promise<LayerTocWithRaw> {
  let read: { bytes: Uint8Array; start: number } | undefined;
  const toc = await openLayer(client.blob(reference, layer.descriptor), {
    ...(layer.annotatedTocDigest ? { expectedTocDigest: layer.annotatedTocDigest } : {}),
    ...(options.tailSize ? { tailSize: options.tailSize } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onTailBytes: (bytes, start) => {
      read = { bytes, start };
    },
  });
  if (read === undefined) return toc;
  const { bytes, start } = read;
  const { tocOffset, size } = toc.footer;
  if (start < tocOffset) held.hold(layer.digest, bytes, start, tocOffset);
  if (cache === undefined) return toc;
  // openLayer computed the TOC digest from exactly this member
  return {
    ...toc,
    tocMember: bytes.subarray(tocOffset - start, toc.blobSize - size - start),
    rawVerified: true,
  };
}

/**
 * The TOCs of opened layers, as the image index takes them; E_NOT_ESTARGZ naming the first layer that
 * is not eStargz (`imageName` for the message).
 */
export function indexInputsOf(statuses: readonly LayerStatus[], imageName: string): IndexLayerInput[] {
  const bad = statuses.find((s) => !s.estargz);
  if (bad && !bad.estargz) {
    const others = statuses.some((s) => s.estargz);
    const hint = others ? '; to read an eStargz layer alone, name it with --layer' : '';
    // the reader's reason (no footer, zstd, uncompressed) without the digest it repeats
    const reason = bad.error.message
      .replace(`layer ${bad.layer.digest}: `, '')
      .replace(`layer ${bad.layer.digest} is `, 'it is ');
    throw new StargzError(
      'E_NOT_ESTARGZ',
      `layer ${bad.layer.position + 1} (${bad.layer.digest}) of ${imageName} is not an eStargz layer: ${reason}${hint}`,
      { cause: bad.error, details: { layer: bad.layer.digest, position: bad.layer.position + 1 } },
    );
  }
  return statuses.map((s) => ({
    digest: s.layer.digest,
    toc: (s as { toc: LayerToc }).toc.toc,
    descriptor: s.layer.descriptor,
  }));
}
