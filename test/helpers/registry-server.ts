import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import bcrypt from 'bcryptjs';
import { stringify } from 'yaml';
import { generateCertificate, type TestCertificate } from './certs.js';
import { getFreePort } from './ports.js';
import type { TokenServer } from './token-server.js';

/** How the registry authenticates clients. */
export type RegistryAuth =
  | { type: 'none' }
  /** Basic auth from an htpasswd file written with bcrypt entries for `users` (username → password) */
  | { type: 'htpasswd'; users: Record<string, string>; realm?: string }
  /** token auth trusting a running test token server (realm, service, issuer and root bundle taken from it) */
  | { type: 'token'; tokenServer: TokenServer }
  /** token auth with explicit settings; `rootCertBundle` is PEM text */
  | { type: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface RegistryOptions {
  /** default `{type: 'none'}` */
  auth?: RegistryAuth;
  /** serve HTTPS with a fresh self-signed certificate for 127.0.0.1/localhost (or the one given) */
  tls?: boolean | TestCertificate;
  /** path of the registry binary, default `docker-registry` on PATH, then /usr/bin/docker-registry */
  binary?: string;
  /** extra top-level config sections; each one given replaces the generated section of that name (no deep merge) */
  extraConfig?: Record<string, unknown>;
  /** how long to wait for `/v2/` to answer, default 20 s */
  startTimeoutMs?: number;
}

/** A running distribution registry (Debian's `docker-registry`, distribution 2.8). */
export interface RegistryServer {
  /** `http://127.0.0.1:PORT` (https with `tls`) */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly port: number;
  /** temp dir holding config, storage and auth files; removed by `close()` */
  readonly dir: string;
  readonly configPath: string;
  /** the TLS certificate when `tls` was asked for (trust its `certPem`, or skip verification) */
  readonly certificate: TestCertificate | undefined;
  /** everything the registry wrote to stdout/stderr so far (for debugging failures) */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes the temp dir. Safe to call twice. */
  close(): Promise<void>;
  /** the same as `close()` */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'the integration tests need the CNCF distribution registry server `docker-registry`: run ' +
  '`sudo apt-get install docker-registry` (Debian/Ubuntu; CI installs it via .ci/run)';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds the registry binary or throws an Error that says how to install it. */
export async function findRegistryBinary(explicit?: string): Promise<string> {
  const candidates = explicit
    ? [explicit]
    : [
        ...(process.env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .map((dir) => join(dir, 'docker-registry')),
        '/usr/bin/docker-registry',
      ];
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate;
  throw new Error(explicit ? `${explicit} is not an executable; ${INSTALL_HINT}` : INSTALL_HINT);
}

async function writeAuthConfig(
  auth: RegistryAuth,
  dir: string,
): Promise<Record<string, unknown> | undefined> {
  if (auth.type === 'none') return undefined;
  if (auth.type === 'htpasswd') {
    const lines = Object.entries(auth.users).map(
      ([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`,
    );
    const path = join(dir, 'htpasswd');
    await writeFile(path, `${lines.join('\n')}\n`);
    return { htpasswd: { realm: auth.realm ?? 'starget-test', path } };
  }
  const settings =
    'tokenServer' in auth
      ? {
          realm: auth.tokenServer.realm,
          service: auth.tokenServer.service,
          issuer: auth.tokenServer.issuer,
          rootCertBundle: auth.tokenServer.certificate.certPem,
        }
      : auth;
  const rootcertbundle = join(dir, 'token-roots.pem');
  await writeFile(rootcertbundle, settings.rootCertBundle);
  return {
    token: { realm: settings.realm, service: settings.service, issuer: settings.issuer, rootcertbundle },
  };
}

/** Resolves when `url` answers any HTTP status; rejects when `child` exits or `timeoutMs` passes. */
async function waitUntilAnswering(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = child.exitCode !== null;
  const onExit = () => {
    exited = true;
  };
  child.once('exit', onExit);
  try {
    while (!exited) {
      const answered = await new Promise<boolean>((resolve) => {
        const send = url.startsWith('https:') ? httpsRequest : httpRequest;
        const req = send(
          url,
          { method: 'GET', rejectUnauthorized: false, agent: false, timeout: 1000 },
          (res) => {
            res.resume();
            resolve(true);
          },
        );
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
        req.end();
      });
      if (answered) return;
      if (Date.now() > deadline) throw new Error(`registry did not answer ${url} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`registry exited with code ${child.exitCode} before answering ${url}`);
  } finally {
    child.off('exit', onExit);
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills registries still running when the test process exits (e.g. a suite that forgot `close()`). */
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of liveChildren) running.kill('SIGKILL');
  });
}

/** The environment for the child: without REGISTRY_* variables, which would override the generated config. */
function childEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
}

/**
 * Starts Debian's `docker-registry serve config.yml` on a free loopback port with filesystem storage in a temp dir,
 * delete enabled and log level warn, and resolves once `/v2/` answers. Retries with a new port if the port
 * was taken meanwhile. Never uses a system registry (e.g. one on :5000).
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const binary = await findRegistryBinary(options.binary);
  const dir = await mkdtemp(join(tmpdir(), 'starget-registry-'));
  try {
    const storage = join(dir, 'storage');
    await mkdir(storage);
    const auth = await writeAuthConfig(options.auth ?? { type: 'none' }, dir);
    let certificate: TestCertificate | undefined;
    let tlsConfig: Record<string, string> | undefined;
    if (options.tls) {
      certificate =
        options.tls === true
          ? await generateCertificate({
              commonName: '127.0.0.1',
              altNames: ['IP:127.0.0.1', 'DNS:localhost'],
            })
          : options.tls;
      const certPath = join(dir, 'tls-cert.pem');
      const keyPath = join(dir, 'tls-key.pem');
      await writeFile(certPath, certificate.certPem);
      await writeFile(keyPath, certificate.keyPem);
      tlsConfig = { certificate: certPath, key: keyPath };
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const port = await getFreePort();
      const config: Record<string, unknown> = {
        version: 0.1,
        log: { level: 'warn', accesslog: { disabled: true }, formatter: 'text' },
        storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
        http: {
          addr: `127.0.0.1:${port}`,
          secret: randomBytes(16).toString('hex'),
          ...(tlsConfig ? { tls: tlsConfig } : {}),
        },
        health: { storagedriver: { enabled: false } },
        ...(auth ? { auth } : {}),
        ...options.extraConfig,
      };
      const configPath = join(dir, 'config.yml');
      await writeFile(configPath, stringify(config));
      const child = spawn(binary, ['serve', configPath], {
        env: childEnvironment(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(child);
      let output = '';
      const collect = (chunk: Buffer) => {
        if (output.length < 1_000_000) output += chunk.toString('utf8');
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
      const url = `${tlsConfig ? 'https' : 'http'}://127.0.0.1:${port}`;
      try {
        await Promise.race([
          waitUntilAnswering(`${url}/v2/`, child, options.startTimeoutMs ?? 20_000),
          spawnFailed,
        ]);
      } catch (err) {
        await stopProcess(child);
        lastError = new Error(`${(err as Error).message}\nregistry output:\n${output}`);
        if (/address already in use/i.test(output)) continue;
        throw lastError;
      }
      let closing: Promise<void> | undefined;
      const close = () => {
        closing ??= stopProcess(child).then(() => rm(dir, { recursive: true, force: true }));
        return closing;
      };
      return {
        url,
        host: `127.0.0.1:${port}`,
        port,
        dir,
        configPath,
        certificate,
        output: () => output,
        close,
        stop: close,
      };
    }
    throw lastError;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
