import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyFromEnv } from '../../../src/cli/session.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseReference } from '../../../src/registry/reference.js';
import { type ConnectProxy, startConnectProxy } from '../../helpers/connect-proxy.js';
import { pushLayout } from '../../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../../helpers/registry-server.js';

let registry: RegistryServer;
let proxy: ConnectProxy;

beforeAll(async () => {
  registry = await startRegistry();
  await pushLayout(registry.url, 'test/fixtures/images/mini-tricky/layout', 'proxy/tricky', 'v1');
  proxy = await startConnectProxy();
});

afterAll(async () => {
  await proxy?.close();
  await registry?.close();
});

describe('HTTP proxies', () => {
  it('tunnels every request through the proxy when one is set', async () => {
    const client = new RegistryClient({ plainHttp: true, proxy: { httpProxy: proxy.url } });
    try {
      const ref = parseReference(`${registry.host}/proxy/tricky:v1`);
      const image = await client.getManifest(ref);
      const layer = image.layers[0]!;
      const range = await client.readRange(ref, layer.digest, 0, 10, { size: layer.size });
      expect(range.kind).toBe('partial');
      expect(proxy.tunnels.length).toBeGreaterThan(0);
      expect(new Set(proxy.tunnels)).toEqual(new Set([registry.host]));
    } finally {
      await client.close();
    }
  });

  it('goes direct to hosts in NO_PROXY', async () => {
    const before = proxy.tunnels.length;
    const client = new RegistryClient({
      plainHttp: true,
      proxy: { httpProxy: proxy.url, noProxy: '127.0.0.1' },
    });
    try {
      await client.getManifest(parseReference(`${registry.host}/proxy/tricky:v1`));
      expect(proxy.tunnels.length).toBe(before);
    } finally {
      await client.close();
    }
  });

  it('reads the proxy variables as curl does, lower case first', () => {
    expect(proxyFromEnv({})).toEqual({});
    expect(proxyFromEnv({ NO_PROXY: 'x' })).toEqual({});
    expect(
      proxyFromEnv({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1', NO_PROXY: 'a,b' }),
    ).toEqual({ proxy: { httpsProxy: 'http://lower:1', noProxy: 'a,b' } });
    expect(proxyFromEnv({ HTTP_PROXY: 'http://p:3128' })).toEqual({ proxy: { httpProxy: 'http://p:3128' } });
  });
});
