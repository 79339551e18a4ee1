/**
 * The bridge between the cache and the image facade's `loadLayerToc` hook: a TOC found in the cache is
 * parsed from there (no network); otherwise the layer is opened as usual and its TOC stored for next time.
 */

import { toStargzError } from '../errors.js';
import { parseTocJson } from '../estargz/toc.js';
import type { LayerToc } from '../estargz/types.js';
import { type Logger, silentLogger } from '../log.js';
import type { ContentCache } from './content-cache.js';

/** What the loader needs to know about a layer (the facade's `ImageLayer` has it). */
export interface TocCacheLayer {
  digest: string;
  /** the manifest's TOC digest annotation, when present: a cached TOC must match it */
  annotatedTocDigest?: string;
}

/**
 * A layer TOC as a reader returns it; when the reader also hands over the raw TOC (the gzip member from
 * the tail, or the JSON), the loader can store it. Without either, the TOC is used but not cached.
 */
export type LayerTocWithRaw = LayerToc & {
  tocMember?: Uint8Array;
  tocJson?: Uint8Array;
  /** the reader computed `tocDigest` from exactly these raw bytes (the store need not check them again) */
  rawVerified?: boolean;
};

export type LayerTocLoader = (layer: TocCacheLayer, open: () => Promise<LayerToc>) => Promise<LayerToc>;

/**
 * A `loadLayerToc` for the facade backed by `cache`. Stores happen in the background; await
 * `cache.flush()` before the process ends if they must land.
 */
export function cachedTocLoader(cache: ContentCache, logger: Logger = silentLogger): LayerTocLoader {
  return async (layer, open) => {
    const hit = await cache.getToc(layer.digest, layer.annotatedTocDigest);
    if (hit !== undefined) {
      try {
        const toc = parseTocJson(hit.tocJson, { tocOffset: hit.footer.tocOffset, blobSize: hit.blobSize });
        return { footer: hit.footer, toc, tocDigest: hit.tocDigest, blobSize: hit.blobSize };
      } catch (error) {
        // verified bytes that this parser rejects (e.g. a newer parser is stricter): read the layer again
        logger.warn('cache: cached TOC did not parse, reading the layer', {
          layer: layer.digest,
          error: toStargzError(error).message,
        });
      }
    }
    const { tocMember, tocJson, rawVerified, ...fresh } = (await open()) as LayerTocWithRaw;
    const base = {
      tocDigest: fresh.tocDigest,
      footer: fresh.footer,
      blobSize: fresh.blobSize,
      ...(rawVerified === true ? { verified: true } : {}),
    };
    if (tocMember !== undefined) cache.putTocInBackground(layer.digest, { ...base, tocMember });
    else if (tocJson !== undefined) cache.putTocInBackground(layer.digest, { ...base, tocJson });
    // the raw bytes are not kept with the TOC: they would pin the whole tail buffer in memory
    return fresh;
  };
}
