/**
 * Opening a layer: one read of the blob's tail (footer and, usually, the whole TOC), a second read only
 * when the TOC starts before that tail, then TOC parsing and the TOC digest check.
 */

import { StargzError } from '../errors.js';
import type { BlobSource } from '../registry/types.js';
import { FOOTER_SIZE_ESTARGZ, parseFooter } from './footer.js';
import { readRangeBytes } from './read-range.js';
import { MAX_TOC_MEMBER_BYTES, parseTocMember } from './toc.js';
import type { LayerToc } from './types.js';

/** How many bytes of a blob's end are read at first: enough for the TOC of most layers. */
export const DEFAULT_TAIL_SIZE = 512 * 1024;

export interface OpenLayerOptions {
  /** the manifest's `containerd.io/snapshot/stargz/toc.digest` annotation, when present */
  expectedTocDigest?: string;
  /** bytes to read from the end at first (default 512 KiB; at least 51) */
  tailSize?: number;
  signal?: AbortSignal;
  /**
   * Called once the layer parsed, with the bytes read from the blob (from `start` to its end: the tail,
   * joined with the second read when there was one), e.g. to cache the TOC member or serve later reads.
   */
  onTailBytes?: (bytes: Uint8Array, start: number) => void;
}

/** Either the parsed layer, or the blob offset from which bytes are needed to parse it. */
export type LayerTailResult = { kind: 'toc'; layer: LayerToc } | { kind: 'need'; start: number };

/**
 * Parses a layer from `bytes`, the blob's bytes from `bytesStart` to its end (`blobSize`). When the TOC
 * starts before `bytesStart`, returns `{kind: 'need', start}` instead. Pure: no I/O.
 */
export function parseLayerTail(bytes: Uint8Array, bytesStart: number, blobSize: number): LayerTailResult {
  if (bytesStart < 0 || bytesStart + bytes.length !== blobSize) {
    throw new StargzError('E_INTERNAL', 'parseLayerTail needs the bytes up to the end of the blob', {
      details: { bytesStart, length: bytes.length, blobSize },
    });
  }
  const footer = parseFooter(bytes.subarray(Math.max(0, bytes.length - FOOTER_SIZE_ESTARGZ)), blobSize);
  const memberSize = blobSize - footer.size - footer.tocOffset;
  if (memberSize > MAX_TOC_MEMBER_BYTES) {
    throw new StargzError(
      'E_TOC_INVALID',
      `invalid eStargz TOC: the footer puts a TOC of ${memberSize} bytes at byte ${footer.tocOffset}, more ` +
        `than the limit of ${MAX_TOC_MEMBER_BYTES}: the layer is corrupt`,
      { details: { tocOffset: footer.tocOffset, tocSize: memberSize, limit: MAX_TOC_MEMBER_BYTES } },
    );
  }
  if (footer.tocOffset < bytesStart) return { kind: 'need', start: footer.tocOffset };
  const member = bytes.subarray(footer.tocOffset - bytesStart, blobSize - footer.size - bytesStart);
  const { toc, tocDigest } = parseTocMember(member, { tocOffset: footer.tocOffset, blobSize });
  return { kind: 'toc', layer: { footer, toc, tocDigest, blobSize } };
}

/** What a layer media type says about a compression eStargz cannot have, or undefined. */
function nonGzipKind(mediaType: string | undefined): string | undefined {
  if (mediaType === undefined) return undefined;
  const type = mediaType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type.endsWith('+zstd') || type.endsWith('.zstd')) return 'zstd-compressed';
  if (type.endsWith('.tar') || type.endsWith('+tar')) return 'uncompressed';
  return undefined;
}

/** Adds the layer digest to an error from the parsers so the user knows which layer is at fault. */
function inLayer(error: unknown, source: BlobSource): unknown {
  const digest = source.digest;
  if (!StargzError.is(error) || error.code === 'E_ABORTED' || error.details['layer'] !== undefined)
    return error;
  const kind = error.code === 'E_NOT_ESTARGZ' ? nonGzipKind(source.mediaType) : undefined;
  const message =
    kind === undefined
      ? `layer ${digest}: ${error.message}`
      : `layer ${digest} is ${kind} (media type ${source.mediaType}): only gzip eStargz layers can be read`;
  return new StargzError(error.code, message, {
    cause: error,
    details: {
      ...error.details,
      layer: digest,
      ...(source.mediaType === undefined ? {} : { mediaType: source.mediaType }),
    },
  });
}

/**
 * Reads and validates a layer's footer and TOC. Usually one range read of min(tailSize, size) bytes;
 * a `whole` answer is streamed through keeping only the bytes needed. Throws E_NOT_ESTARGZ,
 * E_TOC_INVALID, E_UNSUPPORTED (TOC version), E_DIGEST_MISMATCH (TOC digest vs `expectedTocDigest`).
 */
export async function openLayer(source: BlobSource, options: OpenLayerOptions = {}): Promise<LayerToc> {
  const { signal } = options;
  const size = source.size;
  const tailSize = Math.max(options.tailSize ?? DEFAULT_TAIL_SIZE, FOOTER_SIZE_ESTARGZ);
  let layer: LayerToc;
  let read: { bytes: Uint8Array; start: number };
  try {
    const tailStart = size - Math.min(tailSize, size);
    const tail = await readRangeBytes(source, tailStart, size, signal === undefined ? {} : { signal });
    let result = parseLayerTail(tail, tailStart, size);
    let held = { bytes: tail, start: tailStart };
    if (result.kind === 'need') {
      const head = await readRangeBytes(
        source,
        result.start,
        tailStart,
        signal === undefined ? {} : { signal },
      );
      const joined = new Uint8Array(head.length + tail.length);
      joined.set(head, 0);
      joined.set(tail, head.length);
      held = { bytes: joined, start: result.start };
      result = parseLayerTail(joined, result.start, size);
      if (result.kind === 'need') throw new StargzError('E_INTERNAL', 'the TOC start moved between reads');
    }
    layer = result.layer;
    read = held;
  } catch (error) {
    throw inLayer(error, source);
  }
  if (options.expectedTocDigest !== undefined && options.expectedTocDigest !== layer.tocDigest) {
    throw new StargzError(
      'E_DIGEST_MISMATCH',
      `layer ${source.digest}: its TOC has digest ${layer.tocDigest}, but the manifest annotation ` +
        `says ${options.expectedTocDigest}: the layer or the manifest was altered`,
      { details: { layer: source.digest, expected: options.expectedTocDigest, actual: layer.tocDigest } },
    );
  }
  options.onTailBytes?.(read.bytes, read.start);
  return layer;
}
