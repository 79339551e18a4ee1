import { describe, expect, it } from 'vitest';
import { credentialFromAuthEntry, parseCredentialFile } from '../../../src/credentials/credential-file.js';
import { StargzError } from '../../../src/errors.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('credentialFromAuthEntry', () => {
  it.each([
    [{ auth: b64('bob:pa:ss') }, { kind: 'basic', username: 'bob', password: 'pa:ss' }],
    [
      { username: 'u', password: 'p' },
      { kind: 'basic', username: 'u', password: 'p' },
    ],
    // base64 auth wins over username/password, as in docker
    [
      { auth: b64('a:b'), username: 'u', password: 'p' },
      { kind: 'basic', username: 'a', password: 'b' },
    ],
    [{ identitytoken: 'idt' }, { kind: 'identityToken', token: 'idt' }],
    [
      { auth: b64('u:'), identitytoken: 'idt' },
      { kind: 'identityToken', token: 'idt', username: 'u' },
    ],
    [{ registrytoken: 'rt' }, { kind: 'registryToken', token: 'rt' }],
    [{}, undefined],
  ])('%j', (entry, expected) => {
    expect(credentialFromAuthEntry(entry, 'test')).toEqual(expected);
  });

  it('rejects an auth that is not base64 of user:password without showing it', () => {
    for (const auth of ['not base64!!', b64('nocolon-secretvalue')]) {
      let caught: unknown;
      try {
        credentialFromAuthEntry({ auth }, 'docker config /x auths["h"]');
      } catch (error) {
        caught = error;
      }
      expect(StargzError.is(caught) && caught.code).toBe('E_CONFIG');
      expect(String((caught as Error).message)).not.toContain('secretvalue');
    }
  });
});

describe('parseCredentialFile', () => {
  it('keeps string fields of auths, credHelpers and credsStore; ignores the rest', () => {
    const file = parseCredentialFile(
      JSON.stringify({
        auths: { 'ghcr.io': { auth: 'eA==', email: 'x@y', extra: 1 }, bad: 'nope' },
        credHelpers: { 'gcr.io': 'gcloud', x: 3 },
        credsStore: 'desktop',
        HttpHeaders: { 'User-Agent': 'x' },
      }),
      '/c.json',
    );
    expect(file).toEqual({
      auths: { 'ghcr.io': { auth: 'eA==' } },
      credHelpers: { 'gcr.io': 'gcloud' },
      credsStore: 'desktop',
    });
  });

  it('treats an empty file as empty and malformed JSON as E_CONFIG naming the file, not its text', () => {
    expect(parseCredentialFile('  ', '/c.json')).toEqual({ auths: {}, credHelpers: {} });
    for (const text of ['{"auths": {"h": {"password": "leak-me"', '[1]']) {
      let caught: unknown;
      try {
        parseCredentialFile(text, '/c.json');
      } catch (error) {
        caught = error;
      }
      expect(StargzError.is(caught) && caught.code).toBe('E_CONFIG');
      expect((caught as Error).message).toContain('/c.json');
      expect((caught as Error).message).not.toContain('leak-me');
    }
  });
});
