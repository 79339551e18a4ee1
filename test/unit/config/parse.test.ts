import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/parse.js';
import { StargzError } from '../../../src/errors.js';

function problems(text: string): { line: number; key: string; message: string }[] {
  try {
    parseConfigText(text, '/cfg/config.yaml');
  } catch (error) {
    expect(StargzError.is(error) && error.code).toBe('E_CONFIG');
    const e = error as StargzError;
    expect(e.message).toContain('/cfg/config.yaml');
    return e.details.problems as { line: number; key: string; message: string }[];
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfigText', () => {
  it('reads the documented shape into settings names, with lines', () => {
    const config = parseConfigText(
      [
        'defaults:',
        '  concurrency: 8',
        '  max_retries: 5',
        '  no_progress: true',
        '  platform: linux/arm/v7',
        '  plain_http: false',
        '  insecure: true',
        '  cache_dir: /var/cache/starget',
        '  timeout: 1m',
        'registries:',
        '  ghcr.io: { auth_type: token }',
        '  localhost:5000: { plain_http: true }',
        '  registry.example.com: { credential_helper: pass, insecure: false }',
        '  "[::1]:5000":',
        '',
      ].join('\n'),
      '/c.yaml',
    );
    expect(config.defaults).toEqual({
      concurrency: 8,
      maxRetries: 5,
      noProgress: true,
      platform: 'linux/arm/v7',
      plainHttp: false,
      insecure: true,
      cacheDir: '/var/cache/starget',
      timeoutMs: 60_000,
    });
    expect(config.defaultLines).toMatchObject({ concurrency: 2, timeoutMs: 9 });
    expect(config.registries).toEqual([
      { host: 'ghcr.io', authType: 'token', line: 11 },
      { host: 'localhost:5000', plainHttp: true, line: 12 },
      { host: 'registry.example.com', credentialHelper: 'pass', insecure: false, line: 13 },
      { host: '[::1]:5000', line: 14 },
    ]);
  });

  it.each([
    ['', {}],
    ['# only a comment\n', {}],
    ['defaults:\nregistries:\n', {}],
    ['defaults: { timeout: 45 }', { timeoutMs: 45_000 }],
    ['defaults: { timeout: 250ms }', { timeoutMs: 250 }],
  ])('accepts %j', (text, defaults) => {
    expect(parseConfigText(text, '/c.yaml').defaults).toEqual(defaults);
  });

  it.each([
    ['defaults:\n  concurency: 4\n', [{ line: 2, key: 'defaults.concurency', message: /unknown key/ }]],
    [
      'defaults:\n  concurrency: "4"\n',
      [{ line: 2, key: 'defaults.concurrency', message: /expected number/ }],
    ],
    ['defaults:\n  concurrency: 0\n', [{ line: 2, key: 'defaults.concurrency', message: />=1/ }]],
    ['defaults:\n  concurrency: 2.5\n', [{ line: 2, key: 'defaults.concurrency', message: /int/ }]],
    [
      'defaults:\n  no_progress: yes\n',
      [{ line: 2, key: 'defaults.no_progress', message: /expected boolean/ }],
    ],
    ['defaults:\n  platform: amd64\n', [{ line: 2, key: 'defaults.platform', message: /os\/arch/ }]],
    ['defaults:\n  timeout: soon\n', [{ line: 2, key: 'defaults.timeout', message: /duration/ }]],
    ['\n\nverbose: true\n', [{ line: 3, key: 'verbose', message: /unknown key/ }]],
    ['defaults: 3\n', [{ line: 1, key: 'defaults', message: /expected object/ }]],
    [
      'registries:\n  ghcr.io:\n    auth_type: bearer\n  localhost:5000:\n    plain-http: true\n',
      [
        { line: 3, key: 'registries.ghcr.io.auth_type', message: /auto.*basic.*token/ },
        { line: 5, key: 'registries.localhost:5000.plain-http', message: /unknown key/ },
      ],
    ],
    [
      'registries:\n  https://ghcr.io: {}\n',
      [{ line: 2, key: 'registries.https://ghcr.io', message: /host\[:port\]/ }],
    ],
    [
      'registries:\n  h.io:\n    password: x\n',
      [{ line: 3, key: 'registries.h.io.password', message: /username/ }],
    ],
    [
      'registries:\n  docker.io: {}\n  index.docker.io: {}\n',
      [{ line: 3, key: 'registries.index.docker.io', message: /same registry as "docker.io" on line 2/ }],
    ],
    ['defaults: [1,\nregistries: x: y\n', [{ line: 2, key: '', message: /./ }]],
    ['defaults:\n  concurrency: 1\n  concurrency: 2\n', [{ line: 3, key: '', message: /unique/i }]],
  ])('rejects %j with file, line and key', (text, expected) => {
    const found = problems(text);
    expect(found.length).toBeGreaterThanOrEqual(expected.length);
    expected.forEach((want, index) => {
      expect(found[index]).toMatchObject({ line: want.line, key: want.key });
      expect(found[index]!.message).toMatch(want.message);
    });
  });

  it('names every problem in the message as file:line: key', () => {
    let message = '';
    try {
      parseConfigText('defaults:\n  concurrency: x\n  bogus: 1\n', '/cfg/config.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('/cfg/config.yaml:2: defaults.concurrency:');
    expect(message).toContain('/cfg/config.yaml:3: defaults.bogus: unknown key');
  });

  it('never quotes a value from the file in an error', () => {
    const texts = [
      'registries:\n  h.io: { username: u, password: "hunter2-secret }\n',
      'registries:\n  h.io: { username: u, password: hunter2-secret, extra: 1 }\n',
      'registries:\n  h.io: { username: u, password: [hunter2-secret] }\n',
    ];
    for (const text of texts) {
      try {
        parseConfigText(text, '/c.yaml');
        throw new Error('expected rejection');
      } catch (error) {
        expect(StargzError.is(error)).toBe(true);
        expect(
          JSON.stringify({ m: (error as Error).message, d: (error as StargzError).details }),
        ).not.toContain('hunter2');
      }
    }
  });
});
