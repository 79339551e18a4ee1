import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` (default 127.0.0.1) by binding port 0 and releasing it.
 * Another process may take the port before the caller binds it: callers that spawn external servers
 * (the registry) retry with a fresh port when the bind fails.
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the bound address on ${host}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
