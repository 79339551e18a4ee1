/** The layers of an opened image: as the manifest lists them, and as a user names one. */

import { StargzError } from '../errors.js';
import type { Descriptor } from '../registry/types.js';
import type { ImageLayer } from '../starget-types.js';

/** The manifest annotation holding a layer's TOC digest. */
export const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';

/** The layers of a manifest, bottom first, with the TOC digest their annotation names. */
export function toImageLayers(descriptors: readonly Descriptor[]): ImageLayer[] {
  return descriptors.map((descriptor, position) => {
    const layer: ImageLayer = {
      descriptor,
      digest: descriptor.digest,
      size: descriptor.size,
      mediaType: descriptor.mediaType,
      position,
    };
    const annotated = descriptor.annotations?.[TOC_DIGEST_ANNOTATION];
    if (annotated) layer.annotatedTocDigest = annotated;
    return layer;
  });
}

/** The layer a user names: `sha256:<hex>`, the hex alone, or a unique prefix of 12 or more hex digits. */
export function resolveLayer(layers: readonly ImageLayer[], name: string): ImageLayer {
  const wanted = name.trim().toLowerCase();
  const hex = wanted.startsWith('sha256:') ? wanted.slice(7) : wanted.includes(':') ? undefined : wanted;
  const found = layers.filter(
    (layer) =>
      layer.digest === wanted ||
      (hex !== undefined &&
        hex.length >= 12 &&
        layer.digest.slice(layer.digest.indexOf(':') + 1).startsWith(hex)),
  );
  if (found.length !== 1) {
    const list = layers.map((layer) => `  ${layer.position + 1}. ${layer.digest}`).join('\n');
    const why = found.length === 0 ? 'is not a layer of this image' : 'matches several layers';
    throw new StargzError('E_NOT_FOUND', `layer ${name} ${why}; the layers are:\n${list}`, {
      details: { layer: name, layers: layers.map((layer) => layer.digest) },
    });
  }
  return found[0]!;
}
