/**
 * The fault matrix's credential rows: a registry token that stops being accepted mid-run (401 with a fresh
 * challenge), and the blob host's signed URL expiring (403) mid-run behind a redirecting front. For each
 * scope the get ends with the exact tree of a clean run.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../../../src/starget.js';
import { type WriterEntry, writeEstargz } from '../../helpers/estargz-writer.js';
import {
  type FaultFront,
  type RedirectFront,
  startFaultFront,
  startRedirectFront,
} from '../../helpers/fronts.js';
import { buildImage, pushImage } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';
import { startTokenServer, type TokenServer } from '../../helpers/token-server.js';
import { snapshotTree, type TreeNode } from '../../unit/download/_tree.js';

const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const REPO = 'auth/app';
const ENTRIES: WriterEntry[] = [
  { type: 'dir', name: 'app' },
  { type: 'dir', name: 'app/lib' },
  ...Array.from(
    { length: 6 },
    (_, i): WriterEntry => ({
      type: 'reg',
      name: `app/lib/f${i}`,
      content: randomBytes(4000 + i),
    }),
  ),
  { type: 'reg', name: 'app/big', content: randomBytes(200 * 1024) },
  { type: 'reg', name: 'readme', content: Buffer.from('hello\n') },
];
const SCOPES = [
  { name: 'one file', patterns: ['app/big'] },
  { name: 'a directory', patterns: ['app/'] },
  { name: 'the whole image', patterns: ['.'] },
] as const;
/** one request per gzip member, one at a time: the run lasts several requests */
const STEPWISE = { concurrency: 1 };

let base: string;
const layer = writeEstargz(ENTRIES, { chunkSize: 64 * 1024 });
const built = buildImage({ layers: [{ data: layer.blob, annotations: { [TOC]: layer.tocDigest } }] });

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'starget-auth-expiry-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Directories not selected get the time of the run: left out of the comparison. */
function withoutDirTimes(tree: Record<string, TreeNode>): Record<string, TreeNode> {
  return Object.fromEntries(
    Object.entries(tree).map(([path, node]) => [path, node.type === 'dir' ? { ...node, mtimeMs: 0 } : node]),
  );
}

async function extract(
  host: string,
  patterns: readonly string[],
  out: string,
  hooks: { afterIndex?: () => void; onFileDone?: () => void } = {},
) {
  // holdTailBytes 0: these small layers fit in the tail read, and the content must come over the network here
  const opened = await openImage(`${host}/${REPO}:v1`, {
    plainHttp: true,
    timeoutMs: 10_000,
    holdTailBytes: 0,
  });
  try {
    await opened.index();
    hooks.afterIndex?.();
    return await opened.get(patterns, out, {
      ...STEPWISE,
      onEvent: (event) => {
        if (event.type === 'file-done') hooks.onFileDone?.();
      },
    }).done;
  } finally {
    await opened.close();
  }
}

describe('token expiry mid-run', () => {
  let tokens: TokenServer;
  let registry: RegistryServer;
  let front: FaultFront;
  const references = new Map<string, Record<string, TreeNode>>();

  beforeAll(async () => {
    tokens = await startTokenServer({ users: { bob: 'builder' }, anonymousPull: [REPO] });
    registry = await startRegistry({ auth: { type: 'token', tokenServer: tokens } });
    await pushImage(registry.url, REPO, 'v1', built, {
      credentials: { username: 'bob', password: 'builder' },
    });
    front = await startFaultFront(registry.url);
    for (const scope of SCOPES) {
      const out = join(base, `token-reference-${references.size}`);
      await extract(front.host, scope.patterns, out);
      references.set(scope.name, withoutDirTimes(await snapshotTree(out)));
    }
  });
  afterAll(async () => {
    await front?.close();
    await registry?.close();
    await tokens?.close();
  });

  it.each(SCOPES)(
    '$name: the token is refused once the content is read, a new one is fetched',
    async (scope) => {
      const out = await mkdtemp(join(base, 'token-'));
      let expire = false;
      front.setRules([
        {
          name: 'expired-token',
          match: { when: (r) => expire && tokens.isRevoked(r.authorization) },
          action: {
            type: 'status',
            status: 401,
            headers: { 'www-authenticate': tokens.challenge(`repository:${REPO}:pull`) },
          },
        },
      ]);
      const before = tokens.tokenRequestCount;
      const revoke = () => {
        if (expire) return;
        expire = true;
        tokens.revokeIssued();
      };
      // the token this run got for the manifest and the TOCs stops working before the content is read
      await extract(front.host, scope.patterns, out, { afterIndex: revoke });
      const refused = front.hits(0);
      front.setRules([]);
      expect(refused).toBeGreaterThan(0);
      expect(tokens.tokenRequestCount - before).toBeGreaterThanOrEqual(2);
      expect(withoutDirTimes(await snapshotTree(out))).toEqual(references.get(scope.name));
    },
  );
});

describe('signed blob URL expiring (403) mid-run', () => {
  let registry: RegistryServer;
  let redirect: RedirectFront;
  const references = new Map<string, Record<string, TreeNode>>();

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, REPO, 'v1', built);
    redirect = await startRedirectFront(registry.url, { signedUrlTtlMs: 600_000 });
    for (const scope of SCOPES) {
      const out = join(base, `signed-reference-${references.size}`);
      await extract(redirect.host, scope.patterns, out);
      references.set(scope.name, withoutDirTimes(await snapshotTree(out)));
    }
  });
  afterAll(async () => {
    await redirect?.close();
    await registry?.close();
  });

  it.each(SCOPES)('$name: the URL is resolved again, without credentials on the blob host', async (scope) => {
    const out = await mkdtemp(join(base, 'signed-'));
    const expiredBefore = redirect.blobOrigin.requests.filter((r) => r.fault === 'signed-url-expired').length;
    let firstFile = true;
    await extract(redirect.host, scope.patterns, out, {
      // the URLs the TOC reads got expire before the content is read, and again after the first file
      afterIndex: () => redirect.expireSignedUrls(),
      onFileDone: () => {
        if (firstFile) redirect.expireSignedUrls();
        firstFile = false;
      },
    });
    const expired = redirect.blobOrigin.requests.filter((r) => r.fault === 'signed-url-expired').length;
    expect(expired - expiredBefore).toBeGreaterThan(0);
    expect(redirect.blobOrigin.violations).toEqual([]);
    expect(withoutDirTimes(await snapshotTree(out))).toEqual(references.get(scope.name));
  });
});
