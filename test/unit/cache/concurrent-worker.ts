/**
 * A child process for the concurrency test: `writer` stores the same TOC key again and again;
 * `reader` loads it again and again. Each prints its cache counters as JSON when done.
 */

import { ContentCache } from '../../../src/cache/index.js';
import { makeToc } from './toc-sample.js';

const [role, dir, layerDigest, roundsText, sizeText] = process.argv.slice(2);
const rounds = Number(roundsText);
const cache = new ContentCache({ dir: dir! });
const toc = makeToc(Number(sizeText));
let torn = 0;

for (let i = 0; i < rounds; i++) {
  if (role === 'writer') {
    await cache.putToc(layerDigest!, toc);
  } else {
    const got = await cache.getToc(layerDigest!, toc.tocDigest);
    if (got !== undefined && Buffer.compare(Buffer.from(got.tocJson), Buffer.from(toc.tocJson)) !== 0) torn++;
  }
}
process.stdout.write(JSON.stringify({ ...cache.stats(), torn }));
