import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** JWS algorithms the test token server signs with (the two the distribution registry accepts here). */
export type SigningAlgorithm = 'ES256' | 'RS256';

/** A self-signed certificate with its private key: a token signer, or a TLS server identity. */
export interface TestCertificate {
  algorithm: SigningAlgorithm;
  /** PKCS#8 PEM of the private key */
  keyPem: string;
  /** PEM of the self-signed certificate (usable as the registry's `rootcertbundle`) */
  certPem: string;
  /** DER of the certificate (what a JWS `x5c` header carries, base64) */
  certDer: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** libtrust key id of the public key: what a JWS `kid` header must hold for the registry to trust it */
  keyId: string;
}

export interface CertificateOptions {
  /** default `ES256` (a P-256 key); `RS256` makes a 2048-bit RSA key */
  algorithm?: SigningAlgorithm;
  /** subject common name, default `starget test` */
  commonName?: string;
  /** subjectAltName entries, e.g. `['IP:127.0.0.1', 'DNS:localhost']` (for TLS servers) */
  altNames?: string[];
}

const OPENSSL_HINT =
  'the test harness needs the openssl CLI: run `sudo apt-get install openssl` (CI installs it via .ci/run)';

/** Generates a fresh key and a self-signed certificate (valid from a day ago for two days) with the openssl CLI. */
export async function generateCertificate(options: CertificateOptions = {}): Promise<TestCertificate> {
  const algorithm = options.algorithm ?? 'ES256';
  const dir = await mkdtemp(join(tmpdir(), 'starget-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const keyArgs =
      algorithm === 'ES256'
        ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
        : ['-newkey', 'rsa:2048'];
    const args = ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2'];
    args.push('-subj', `/CN=${options.commonName ?? 'starget test'}`);
    if (options.altNames && options.altNames.length > 0) {
      args.push('-addext', `subjectAltName=${options.altNames.join(',')}`);
    }
    try {
      await run('openssl', args);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new Error(OPENSSL_HINT);
      throw new Error(`openssl failed to make a test certificate: ${(err as Error).message}`);
    }
    const keyPem = await readFile(keyPath, 'utf8');
    const certPem = await readFile(certPath, 'utf8');
    const privateKey = createPrivateKey(keyPem);
    const publicKey = createPublicKey(privateKey);
    return {
      algorithm,
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      certPem,
      certDer: Buffer.from(new X509Certificate(certPem).raw),
      privateKey,
      publicKey,
      keyId: libtrustKeyId(publicKey),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The libtrust key id of a public key, as docker/distribution computes it: sha256 of the DER SubjectPublicKeyInfo,
 * the first 240 bits, base32 (RFC 4648, no padding), in groups of 4 joined by `:`.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(spki).digest().subarray(0, 30);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{1,4}/g)!.join(':');
}
