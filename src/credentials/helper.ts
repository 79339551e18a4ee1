import { spawn } from 'node:child_process';
import { StargzError } from '../errors.js';
import type { Credential } from '../registry/types.js';
import { helperServerUrl } from './registry-host.js';

/** How long a credential helper may take before it is killed (docker has no limit; a hung prompt would block us). */
export const DEFAULT_HELPER_TIMEOUT_MS = 10_000;

const MAX_OUTPUT_BYTES = 1 << 20;

export interface CredentialHelperOptions {
  /** environment for the helper; its PATH is where `docker-credential-NAME` is looked up. */
  env: Record<string, string | undefined>;
  /** kill the helper after this many ms (default 10 s) */
  timeoutMs?: number;
}

/** Runs `docker-credential-NAME get` for registries, remembering each answer for the life of the runner. */
export interface CredentialHelperRunner {
  /**
   * The helper's credential for `registry`, or undefined when it has none ("credentials not found").
   * Throws E_AUTH when the helper is missing, fails, hangs past the timeout or prints garbage.
   */
  get(helper: string, registry: string): Promise<Credential | undefined>;
}

/** Creates a helper runner with its own answer cache (one per process is the intended use). */
export function createCredentialHelperRunner(options: CredentialHelperOptions): CredentialHelperRunner {
  const cache = new Map<string, Promise<Credential | undefined>>();
  return {
    get(helper, registry) {
      const serverUrl = helperServerUrl(registry);
      const key = `${helper}\u0000${serverUrl}`;
      let answer = cache.get(key);
      if (answer === undefined) {
        answer = runHelperGet(helper, serverUrl, options);
        cache.set(key, answer);
      }
      return answer;
    },
  };
}

interface HelperAnswer {
  Username?: unknown;
  Secret?: unknown;
}

/** Runs one `docker-credential-NAME get` (no cache). */
export async function runHelperGet(
  helper: string,
  serverUrl: string,
  options: CredentialHelperOptions,
): Promise<Credential | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    throw new StargzError(
      'E_CONFIG',
      `credential helper name "${helper}" is not a plain program name suffix`,
      {
        details: { helper },
      },
    );
  }
  const program = `docker-credential-${helper}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  const result = await spawnWithInput(program, ['get'], serverUrl, options.env, timeoutMs);
  if (result.kind === 'missing') {
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} is not on PATH: install it, or remove "${helper}" from the docker or starget config`,
      { details: { helper: program, registry: serverUrl } },
    );
  }
  if (result.kind === 'timeout') {
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} gave no answer for ${serverUrl} within ${timeoutMs} ms and was stopped: ` +
        `run "echo ${serverUrl} | ${program} get" to see whether it waits for input (e.g. an unlock prompt)`,
      { details: { helper: program, registry: serverUrl, timeoutMs } },
    );
  }
  if (result.kind === 'spawn-error') {
    throw new StargzError('E_AUTH', `credential helper ${program} could not be started (${result.reason})`, {
      details: { helper: program, registry: serverUrl },
    });
  }
  if (result.exitCode !== 0) {
    // Helpers report "credentials not found in native keychain" on stdout; some use stderr.
    if (/credentials not found/i.test(result.stdout) || /credentials not found/i.test(result.stderr)) {
      return undefined;
    }
    // The helper's own output is not repeated: it may echo what it was handling.
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} failed for ${serverUrl} (exit ${result.exitCode}): ` +
        `run "echo ${serverUrl} | ${program} get" to see its message`,
      { details: { helper: program, registry: serverUrl, exitCode: result.exitCode } },
    );
  }
  return parseHelperAnswer(result.stdout, program, serverUrl);
}

/** Turns a helper's JSON answer into a credential; `<token>` as Username marks an identity token. */
export function parseHelperAnswer(
  stdout: string,
  program: string,
  serverUrl: string,
): Credential | undefined {
  let answer: HelperAnswer;
  try {
    answer = JSON.parse(stdout) as HelperAnswer;
  } catch {
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} printed something that is not JSON for ${serverUrl}`,
      {
        details: { helper: program, registry: serverUrl },
      },
    );
  }
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} printed JSON that is not an object for ${serverUrl}`,
      {
        details: { helper: program, registry: serverUrl },
      },
    );
  }
  const username = answer.Username ?? '';
  const secret = answer.Secret ?? '';
  if (typeof username !== 'string' || typeof secret !== 'string') {
    throw new StargzError(
      'E_AUTH',
      `credential helper ${program} answered for ${serverUrl} without string Username and Secret fields`,
      { details: { helper: program, registry: serverUrl } },
    );
  }
  if (secret === '') return undefined;
  if (username === '<token>') return { kind: 'identityToken', token: secret };
  return { kind: 'basic', username, password: secret };
}

type SpawnResult =
  | { kind: 'exited'; exitCode: number; stdout: string; stderr: string }
  | { kind: 'missing' }
  | { kind: 'timeout' }
  | { kind: 'spawn-error'; reason: string };

function spawnWithInput(
  program: string,
  args: string[],
  input: string,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<SpawnResult> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env: definedOnly(env), stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outBytes = 0;
    let settled = false;
    const finish = (result: SpawnResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      // A grandchild may keep the pipes open; do not wait for them.
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish({ kind: 'timeout' });
    }, timeoutMs);
    const collect = (chunks: Buffer[]) => (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes <= MAX_OUTPUT_BYTES) chunks.push(chunk);
    };
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') finish({ kind: 'missing' });
      else if (error.code === 'EACCES') finish({ kind: 'spawn-error', reason: 'permission denied' });
      else finish({ kind: 'spawn-error', reason: error.code ?? 'unknown error' });
    });
    child.on('close', (code, signal) => {
      finish({
        kind: 'exited',
        exitCode: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    // Like docker, the server URL goes to stdin without a newline.
    // A helper that exits without reading stdin makes the write fail with EPIPE: that is not our error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
