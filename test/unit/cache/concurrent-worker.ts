/**
 * A child process for the concurrency test: `writer` stores the same TOC key `rounds` times; `reader` loads
 * it again and again until the file `stop` exists and it has had at least one hit. Each prints its cache
 * counters as JSON when done.
 */

import { existsSync } from 'node:fs';
import { ContentCache } from '../../../src/cache/index.js';
import { makeToc } from './toc-sample.js';

const [role, dir, layerDigest, roundsText, sizeText, stopFile] = process.argv.slice(2);
const cache = new ContentCache({ dir: dir! });
const toc = makeToc(Number(sizeText));
let torn = 0;
let reads = 0;

if (role === 'writer') {
  for (let i = 0; i < Number(roundsText); i++) await cache.putToc(layerDigest!, toc);
} else {
  while (!existsSync(stopFile!) || cache.stats().tocHits === 0) {
    const got = await cache.getToc(layerDigest!, toc.tocDigest);
    reads++;
    if (got !== undefined && Buffer.compare(Buffer.from(got.tocJson), Buffer.from(toc.tocJson)) !== 0) torn++;
  }
}
process.stdout.write(JSON.stringify({ ...cache.stats(), torn, reads }));
