import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';
import { parseImageManifest, parseIndex } from '../../src/registry/manifest.js';
import { availablePlatforms, selectPlatformManifest } from '../../src/registry/platform.js';
import { formatReference, parseReference } from '../../src/registry/reference.js';
import { fuzzParams, okOrStargzError } from './_fuzz.js';

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/);
const quoted = fc.string({ maxLength: 20 }).map((s) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`);
const param = fc
  .tuple(token, fc.oneof(token, quoted, fc.string({ maxLength: 6 })))
  .map(([k, v]) => `${k}=${v}`);
const challenge = fc
  .tuple(
    fc.oneof(fc.constantFrom('Bearer', 'Basic', 'bearer', 'Digest'), token),
    fc.array(param, { maxLength: 5 }),
    fc.constantFrom(', ', ',', ' ,  ', ',,'),
  )
  .map(([scheme, params, sep]) => `${scheme} ${params.join(sep)}`);
const header = fc.oneof(
  fc.array(challenge, { minLength: 1, maxLength: 3 }).map((list) => list.join(', ')),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

describe('fuzz: WWW-Authenticate parser', () => {
  it('never throws and returns lowercase schemes with string parameters', () => {
    fc.assert(
      fc.property(fc.oneof(header, fc.array(header, { maxLength: 3 })), (value) => {
        const parsed = parseChallenges(value);
        for (const item of parsed) {
          expect(item.scheme).toBe(item.scheme.toLowerCase());
          expect(item.scheme).not.toBe('');
          for (const [key, val] of Object.entries(item.params)) {
            expect(typeof key).toBe('string');
            expect(typeof val).toBe('string');
          }
        }
      }),
      fuzzParams(6000),
    );
  });

  it('reads back the realm, service and scope a registry sends, whatever the quoting', () => {
    const safe = fc.stringMatching(/^[A-Za-z0-9:/._?=&-]{1,30}$/);
    fc.assert(
      fc.property(safe, safe, safe, fc.boolean(), (realm, service, scope, quote) => {
        const q = (s: string) => (quote ? `"${s}"` : s.replace(/[,=\s]/g, '_'));
        const [parsed] = parseChallenges(`Bearer realm=${q(realm)},service=${q(service)},scope=${q(scope)}`);
        expect(parsed?.scheme).toBe('bearer');
        if (quote) expect(parsed?.params).toMatchObject({ realm, service, scope });
      }),
      fuzzParams(3000),
    );
  });
});

describe('fuzz: reference parser', () => {
  const part = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
  const structured = fc
    .tuple(
      fc.option(fc.constantFrom('localhost:5000', 'ghcr.io', 'docker.io', '127.0.0.1:1', 'Host.Example:99'), {
        nil: undefined,
      }),
      fc.array(part, { minLength: 1, maxLength: 3 }),
      fc.option(fc.stringMatching(/^[\w][\w.-]{0,20}$/), { nil: undefined }),
      fc.option(fc.stringMatching(/^sha256:[0-9a-f]{64}$/), { nil: undefined }),
    )
    .map(
      ([registry, path, tag, digest]) =>
        `${registry ? `${registry}/` : ''}${path.join('/')}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`,
    );

  it('parses or refuses with a StargzError; a parsed reference formats back to itself', () => {
    fc.assert(
      fc.property(
        fc.oneof(structured, fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 })),
        (input) => {
          const reference = okOrStargzError(() => parseReference(input));
          if (reference) {
            expect(reference.registry).not.toBe('');
            expect(reference.repository).not.toBe('');
            expect(parseReference(formatReference(reference))).toEqual(reference);
          }
        },
      ),
      fuzzParams(6000),
    );
  });
});

describe('fuzz: manifest and index parsing', () => {
  const digest = fc.oneof(fc.stringMatching(/^sha256:[0-9a-f]{64}$/), fc.string({ maxLength: 10 }));
  const value = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.jsonValue({ maxDepth: 1 }),
  );
  const text = fc.string({ maxLength: 8 });
  const platform = fc.oneof(
    fc.record(
      {
        os: fc.oneof(fc.constantFrom('linux', 'windows', 'unknown'), value),
        architecture: fc.oneof(fc.constantFrom('amd64', 'arm64', 'arm', 'x86_64'), value),
        variant: fc.oneof(fc.constantFrom('v7', 'v8', '7', ''), text, value),
        'os.version': value,
        'os.features': value,
      },
      { requiredKeys: [] },
    ),
    value,
  );
  const descriptor = fc.oneof(
    fc.record(
      {
        mediaType: fc.oneof(fc.constant('application/vnd.oci.image.manifest.v1+json'), value),
        digest,
        size: fc.oneof(fc.nat(), fc.integer(), fc.double(), value),
        annotations: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(text, value), { maxKeys: 3 }),
          fc.array(text, { maxLength: 2 }),
          fc.oneof(text, fc.integer(), fc.constant(null), fc.boolean()),
        ),
        platform,
        urls: fc.oneof(fc.array(value, { maxLength: 2 }), value),
      },
      { requiredKeys: [] },
    ),
    value,
  );
  const document = fc.record(
    {
      schemaVersion: fc.oneof(fc.constantFrom(1, 2), value),
      mediaType: value,
      config: descriptor,
      layers: fc.oneof(fc.array(descriptor, { maxLength: 4 }), value),
      manifests: fc.oneof(fc.array(descriptor, { maxLength: 4 }), value),
    },
    { requiredKeys: [] },
  );
  const wanted = fc.constantFrom(
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    { os: 'linux', architecture: 'arm' },
  );

  it('an image manifest: typed descriptors or a StargzError', () => {
    fc.assert(
      fc.property(
        document,
        fc.constantFrom(
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.docker.distribution.manifest.v1+json',
        ),
        (json, mediaType) => {
          const manifest = okOrStargzError(() =>
            parseImageManifest(json as Record<string, unknown>, mediaType, 'the manifest'),
          );
          if (manifest) {
            for (const layer of [manifest.config, ...manifest.layers]) {
              expect(typeof layer.digest).toBe('string');
              expect(Number.isSafeInteger(layer.size)).toBe(true);
              for (const value of Object.values(layer.annotations ?? {})) expect(typeof value).toBe('string');
            }
          }
        },
      ),
      fuzzParams(4000),
    );
  });

  it('an index: platform selection never throws anything but a StargzError', () => {
    fc.assert(
      fc.property(document, wanted, (json, want) => {
        okOrStargzError(() => {
          const manifests = parseIndex(json as Record<string, unknown>, 'the index');
          selectPlatformManifest(manifests, want);
          availablePlatforms(manifests);
        });
      }),
      fuzzParams(4000),
    );
  });

  // Counterexamples fast-check found once (parseDescriptor passed untyped fields through), kept as cases.
  it('a platform variant that is not a string is ignored, not a crash', () => {
    const json = {
      manifests: [
        {
          digest: `sha256:${'a'.repeat(64)}`,
          size: 1,
          platform: { os: 'linux', architecture: 'amd64', variant: false },
        },
      ],
    };
    const chosen = selectPlatformManifest(parseIndex(json, 'the index'), {
      os: 'linux',
      architecture: 'amd64',
    });
    expect(chosen?.platform).toEqual({ os: 'linux', architecture: 'amd64' });
  });

  it('annotation values that are not strings are dropped', () => {
    const json = {
      config: { digest: `sha256:${'a'.repeat(64)}`, size: 0, annotations: { k: 0, s: 'v' } },
      layers: [],
    };
    const manifest = okOrStargzError(() =>
      parseImageManifest(json, 'application/vnd.oci.image.manifest.v1+json', 'm'),
    );
    expect(manifest?.config.annotations).toEqual({ s: 'v' });
  });
});
