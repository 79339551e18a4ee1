import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli.js';
import type { Invocation } from '../../../src/cli/program.js';
import { StargzError } from '../../../src/errors.js';
import { memoryIO } from './cli-io.js';

async function parse(argv: string[]) {
  const io = memoryIO();
  const calls: Invocation[] = [];
  const code = await runCli(argv, {
    io,
    dispatch: async (invocation) => {
      calls.push(invocation);
    },
  });
  return { code, call: calls[0], out: io.out(), err: io.err() };
}

describe('command line grammar', () => {
  it('maps info with global flags before and after the command', async () => {
    const { code, call } = await parse(['--plain-http', 'info', 'localhost:5000/a:v1', '--json', '-k']);
    expect(code).toBe(0);
    expect(call?.command).toBe('info');
    expect(call?.args).toEqual(['localhost:5000/a:v1']);
    expect(call?.globals).toMatchObject({
      plainHttp: true,
      json: true,
      insecure: true,
      progress: true,
      cache: true,
    });
    expect([...(call?.explicit ?? [])].sort()).toEqual(['insecure', 'json', 'plainHttp']);
  });

  it('maps ls with a blob digest, a pattern and its own flags', async () => {
    const d = `sha256:${'a'.repeat(64)}`;
    const { call } = await parse(['ls', 'img', d, 'bin/', '-l', '--layer', d]);
    expect(call).toMatchObject({
      command: 'ls',
      args: ['img', d, 'bin/'],
      options: { long: true, layer: d },
    });
  });

  it('maps get in both forms', async () => {
    expect((await parse(['get', 'img', 'a', 'b', 'c', '-o', 'out'])).call).toMatchObject({
      command: 'get',
      args: ['img', 'a', 'b', 'c'],
      options: { output: 'out' },
    });
    expect(
      (await parse(['get', 'img', 'bin/echo', 'out/echo', '--no-progress', '--concurrency', '8'])).call,
    ).toMatchObject({
      args: ['img', 'bin/echo', 'out/echo'],
      globals: { progress: false, concurrency: 8 },
    });
  });

  it('maps the get flags --same-owner and --no-resume', async () => {
    expect((await parse(['get', 'img', 'a', '-o', 'out'])).call?.options).toMatchObject({ resume: true });
    expect(
      (await parse(['get', 'img', 'a', '-o', 'out', '--same-owner', '--no-resume'])).call?.options,
    ).toMatchObject({ sameOwner: true, resume: false });
  });

  it('passes patterns that look like flags after --', async () => {
    const { call } = await parse(['get', 'img', '--', '-leading-dash', 'out']);
    expect(call?.args).toEqual(['img', '-leading-dash', 'out']);
  });

  it('maps cat, config show, completion and the hidden __complete', async () => {
    expect((await parse(['cat', 'img', 'etc/os-release'])).call).toMatchObject({
      command: 'cat',
      args: ['img', 'etc/os-release'],
    });
    expect((await parse(['config', 'show', '--config', 'f.yaml'])).call).toMatchObject({
      command: 'config show',
      globals: { config: 'f.yaml' },
    });
    expect((await parse(['completion', 'zsh'])).call).toMatchObject({ command: 'completion', args: ['zsh'] });
    expect((await parse(['__complete', 'bash', '--', 'ls', '--pla'])).call).toMatchObject({
      command: '__complete',
      args: ['bash', 'ls', '--pla'],
    });
  });

  it('refuses bad usage with exit code 2', async () => {
    for (const argv of [
      ['info'],
      ['frobnicate'],
      ['ls', 'img', '--bogus'],
      ['completion', 'powershell'],
      ['get', 'img', 'x', '--concurrency', '0'],
      ['get', 'img', 'x', '--concurrency', 'many'],
    ]) {
      const { code, call, err } = await parse(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(call).toBeUndefined();
      expect(err).toMatch(/^starget: error: /m);
    }
  });

  it('reports usage errors as JSON with --json', async () => {
    const { code, err } = await parse(['ls', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(err)).toMatchObject({ error: { code: 'E_USAGE', exitCode: 2 } });
  });

  it('prints help and the version on stdout with exit code 0', async () => {
    const help = await parse(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: starget');
    for (const name of ['info', 'ls', 'get', 'cat', 'config', 'completion']) expect(help.out).toContain(name);
    expect(help.out).not.toContain('__complete');
    const version = await parse(['--version']);
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^\d+\.\d+\.\d+/);
    const getHelp = await parse(['get', '--help']);
    expect(getHelp.out).toContain('[BLOB_DIGEST] PATTERN [OUTPUT]');
  });

  it('maps command failures to exit codes and messages', async () => {
    const io = memoryIO();
    const fail = (error: unknown) =>
      runCli(['info', 'img'], {
        io,
        dispatch: async () => {
          throw error;
        },
      });
    expect(await fail(new StargzError('E_NOT_FOUND', 'manifest not found'))).toBe(3);
    expect(await fail(new StargzError('E_NOT_ESTARGZ', 'layer x is not eStargz'))).toBe(5);
    expect(await fail(new StargzError('E_DIGEST_MISMATCH', 'bad'))).toBe(6);
    expect(await fail(new StargzError('E_UNSAFE_PATH', 'no'))).toBe(8);
    expect(await fail(new Error('surprise'))).toBe(1);
    expect(io.err()).toContain('starget: error: manifest not found\n');
    expect(io.err()).toContain('starget: error: surprise (this is a bug in starget: please report it)\n');
  });

  it('maps a cancellation by signal to 130 / 143', async () => {
    for (const [name, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const controller = new AbortController();
      controller.abort(name);
      const result = await runCli(['get', 'img', 'x'], {
        io: memoryIO(),
        signal: controller.signal,
        dispatch: async () => {
          throw new StargzError('E_ABORTED', 'the operation was cancelled');
        },
      });
      expect(result).toBe(code);
    }
  });

  it('writes JSON errors with the code', async () => {
    const io = memoryIO();
    const code = await runCli(['info', 'img', '--json'], {
      io,
      dispatch: async () => {
        throw new StargzError('E_AUTH', 'access denied to localhost:5000/a', { details: { status: 401 } });
      },
    });
    expect(code).toBe(4);
    expect(JSON.parse(io.err())).toEqual({
      error: {
        code: 'E_AUTH',
        message: 'access denied to localhost:5000/a',
        details: { status: 401 },
        exitCode: 4,
      },
    });
  });
});
