import { describe, expect, it } from 'vitest';
import {
  complete,
  completeImagePath,
  type ImageListing,
  type ParsedFlags,
} from '../../../src/cli/completion/engine.js';
import { buildProgram, completionSpecOf } from '../../../src/cli/program.js';

const spec = completionSpecOf(buildProgram('0.0.0', async () => {}));
const L1 = `sha256:${'1'.repeat(64)}`;
const L2 = `sha256:${'2'.repeat(64)}`;
const listing: ImageListing = {
  paths: [
    { path: 'bin', dir: true },
    { path: 'bin/echo', dir: false },
    { path: 'bin/env', dir: false },
    { path: 'data', dir: true },
    { path: 'data/file with spaces.txt', dir: false },
    { path: 'data/nested/deep/x', dir: false },
    { path: 'etc/hostname', dir: false },
  ],
  layers: [L1, L2],
};

async function run(words: string[]) {
  const seen: { image: string; flags: ParsedFlags }[] = [];
  const result = await complete(spec, words, async (image, flags) => {
    seen.push({ image, flags });
    return listing;
  });
  return { ...result, values: result.candidates.map((c) => c.value), seen };
}

describe('completeImagePath', () => {
  it.each([
    ['', ['bin/', 'data/', 'etc/']],
    ['b', ['bin/']],
    ['bin/', ['bin/echo', 'bin/env']],
    ['bin/e', ['bin/echo', 'bin/env']],
    ['bin/ec', ['bin/echo']],
    ['data/', ['data/file with spaces.txt', 'data/nested/']],
    ['/et', ['/etc/']],
    ['/etc/', ['/etc/hostname']],
    ['nope', []],
  ])('%j', (prefix, expected) => {
    expect(completeImagePath(listing.paths, prefix)).toEqual(expected);
  });
});

describe('complete', () => {
  it('completes subcommands, without the hidden one', async () => {
    expect((await run([''])).values).toEqual([
      'info',
      'ls',
      'get',
      'cat',
      'config',
      'cache',
      'completion',
      'help',
    ]);
    expect((await run(['c'])).values).toEqual(['cat', 'config', 'cache', 'completion']);
    expect((await run(['cache', ''])).values).toEqual(['info', 'prune']);
    expect((await run(['cache', 'prune', '--'])).values).toEqual(
      expect.arrayContaining(['--all', '--older-than']),
    );
  });

  it('completes global and command flags', async () => {
    expect((await run(['--pl'])).values).toEqual(['--platform', '--plain-http']);
    const ls = (await run(['ls', 'img', '--'])).values;
    expect(ls).toContain('--long');
    expect(ls).toContain('--layer');
    expect(ls).toContain('--json');
    expect((await run(['get', 'img', '-o'])).values).toEqual(['-o']);
  });

  it('completes flag values', async () => {
    expect((await run(['--platform', 'linux/arm'])).values).toEqual([
      'linux/arm64',
      'linux/arm/v7',
      'linux/arm/v6',
    ]);
    expect((await run(['info', '--platform=linux/a'])).values).toEqual([
      '--platform=linux/amd64',
      '--platform=linux/arm64',
      '--platform=linux/arm/v7',
      '--platform=linux/arm/v6',
    ]);
    expect((await run(['get', 'img', 'x', '-o', ''])).directive).toBe('files');
    expect((await run(['--config', ''])).directive).toBe('files');
    expect((await run(['ls', 'img', '--layer', 'sha256:1'])).values).toEqual([L1]);
    expect((await run(['completion', ''])).values).toEqual(['bash', 'zsh', 'fish']);
    expect((await run(['config', ''])).values).toEqual(['show']);
  });

  it('completes paths inside the image for ls, get and cat, with the flags of the line', async () => {
    const cat = await run(['--plain-http', 'cat', 'localhost:5000/a:v1', 'bin/e']);
    expect(cat.values).toEqual(['bin/echo', 'bin/env']);
    expect(cat.seen).toEqual([{ image: 'localhost:5000/a:v1', flags: { 'plain-http': true } }]);
    const ls = await run(['ls', '--platform', 'linux/arm64', 'img', '']);
    expect(ls.values).toEqual([L1, L2, 'bin/', 'data/', 'etc/']);
    expect(ls.seen[0]?.flags).toEqual({ platform: 'linux/arm64' });
    expect((await run(['ls', 'img', L1, 'd'])).values).toEqual(['data/']);
    expect((await run(['get', 'img', 'da'])).values).toEqual(['data/']);
  });

  it('gives get OUTPUT to the shell unless -o is set', async () => {
    expect((await run(['get', 'img', 'bin/echo', ''])).directive).toBe('files');
    expect((await run(['get', 'img', L1, 'bin/echo', ''])).directive).toBe('files');
    expect((await run(['get', '-o', 'out', 'img', 'bin/echo', 'e'])).values).toEqual(['etc/']);
  });

  it('offers nothing for the image, unknown commands and extra arguments', async () => {
    const image = await run(['ls', '']);
    expect(image.values).toEqual([]);
    expect(image.seen).toEqual([]);
    expect((await run(['frob', ''])).values).toEqual([]);
    expect((await run(['cat', 'img', 'a', ''])).values).toEqual([]);
    expect((await run(['ls', 'img', 'a', 'b'])).values).toEqual(['bin/']);
    expect((await run(['info', 'img', ''])).values).toEqual([]);
  });
});
