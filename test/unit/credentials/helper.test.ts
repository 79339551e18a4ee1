import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCredentialHelperRunner,
  parseHelperAnswer,
  runHelperGet,
} from '../../../src/credentials/helper.js';
import { StargzError } from '../../../src/errors.js';
import { createFakeHelpers, type FakeHelpers } from './fake-helpers.js';

let fake: FakeHelpers;

beforeAll(async () => {
  fake = await createFakeHelpers();
  await fake.addStore('store', {
    'localhost:5000': { Username: 'alice', Secret: 's3cret-from-helper' },
    'https://index.docker.io/v1/': { Username: 'hubuser', Secret: 'hub-pass-123' },
    'ghcr.io': { Username: '<token>', Secret: 'identity-token-xyz' },
  });
  await fake.add('hang', 'exec sleep 30');
  await fake.add('hangchild', 'sleep 5; echo late');
  await fake.add('garbage', "echo 'this is not json'");
  await fake.add('array', "echo '[1,2]'");
  await fake.add('badfields', `printf '{"Username": 1, "Secret": true}'`);
  await fake.add(
    'leaky',
    "echo 'failed to unlock with password hunter2-leak' >&2; echo 'token hunter2-leak'; exit 3",
  );
  await fake.add('notfound-stderr', "echo 'credentials not found' >&2; exit 1");
  await fake.add('empty', `printf '{"ServerURL":"%s","Username":"","Secret":""}' "$url"`);
});

afterAll(async () => {
  await fake.cleanup();
});

async function authError(promise: Promise<unknown>): Promise<StargzError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(StargzError.is(error)).toBe(true);
  return error as StargzError;
}

describe('runHelperGet (real helper programs)', () => {
  it('returns basic credentials for a known server and sends the URL on stdin', async () => {
    const credential = await runHelperGet('store', 'localhost:5000', { env: fake.env });
    expect(credential).toEqual({ kind: 'basic', username: 'alice', password: 's3cret-from-helper' });
    expect(await fake.calls()).toContain('store localhost:5000');
  });

  it('treats "credentials not found" (exit 1) as anonymous', async () => {
    expect(await runHelperGet('store', 'other.example.com', { env: fake.env })).toBeUndefined();
    expect(await runHelperGet('notfound-stderr', 'x.io', { env: fake.env })).toBeUndefined();
  });

  it('maps Username <token> to an identity token', async () => {
    expect(await runHelperGet('store', 'ghcr.io', { env: fake.env })).toEqual({
      kind: 'identityToken',
      token: 'identity-token-xyz',
    });
  });

  it('treats an empty Secret as no credential', async () => {
    expect(await runHelperGet('empty', 'x.io', { env: fake.env })).toBeUndefined();
  });

  it('kills a helper that hangs and fails with E_AUTH naming the helper', async () => {
    for (const name of ['hang', 'hangchild']) {
      const error = await authError(runHelperGet(name, 'localhost:5000', { env: fake.env, timeoutMs: 300 }));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain(`docker-credential-${name}`);
      expect(error.message).toContain('300 ms');
    }
  });

  it('rejects output that is not a JSON object with string fields', async () => {
    for (const name of ['garbage', 'array', 'badfields']) {
      const error = await authError(runHelperGet(name, 'x.io', { env: fake.env }));
      expect(error.code).toBe('E_AUTH');
      expect(error.message).toContain(`docker-credential-${name}`);
    }
  });

  it('reports a failing helper by exit code without repeating its output', async () => {
    const error = await authError(runHelperGet('leaky', 'x.io', { env: fake.env }));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toContain('exit 3');
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain('hunter2-leak');
  });

  it('reports a helper missing from PATH as E_AUTH', async () => {
    const error = await authError(runHelperGet('nosuchhelper', 'x.io', { env: fake.env }));
    expect(error.code).toBe('E_AUTH');
    expect(error.message).toMatch(/docker-credential-nosuchhelper is not on PATH/);
  });

  it('refuses helper names that are not a plain suffix', async () => {
    const error = await authError(runHelperGet('../evil', 'x.io', { env: fake.env }));
    expect(error.code).toBe('E_CONFIG');
  });
});

describe('createCredentialHelperRunner', () => {
  it('sends Docker Hub as https://index.docker.io/v1/ and caches each answer', async () => {
    const runner = createCredentialHelperRunner({ env: fake.env });
    const before = (await fake.calls()).length;
    const first = await runner.get('store', 'docker.io');
    const second = await runner.get('store', 'registry-1.docker.io');
    const third = await runner.get('store', 'docker.io');
    expect(first).toEqual({ kind: 'basic', username: 'hubuser', password: 'hub-pass-123' });
    expect(second).toEqual(first);
    expect(third).toBe(first);
    const calls = (await fake.calls()).slice(before);
    expect(calls).toEqual(['store https://index.docker.io/v1/']);
  });

  it('caches failures too, so a hanging helper costs one timeout', async () => {
    const runner = createCredentialHelperRunner({ env: fake.env, timeoutMs: 200 });
    const before = (await fake.calls()).length;
    await authError(runner.get('hang', 'a.io'));
    await authError(runner.get('hang', 'a.io'));
    expect((await fake.calls()).slice(before)).toEqual(['hang a.io']);
  });
});

describe('parseHelperAnswer', () => {
  it.each([
    ['{"ServerURL":"h","Username":"u","Secret":"p"}', { kind: 'basic', username: 'u', password: 'p' }],
    ['{"Username":"<token>","Secret":"t"}', { kind: 'identityToken', token: 't' }],
    ['{"Username":"u","Secret":""}', undefined],
    ['{}', undefined],
  ])('%s', (text, expected) => {
    expect(parseHelperAnswer(text, 'docker-credential-x', 'h')).toEqual(expected);
  });
});
