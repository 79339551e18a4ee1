/**
 * Shell completion with the real shells: the scripts `starget completion bash|zsh|fish` print, calling the
 * built CLI's hidden `__complete` command, which lists paths inside an image from the real registry.
 */

import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushLayout } from '../helpers/oci.js';
import { type RegistryServer, startRegistry } from '../helpers/registry-server.js';
import { CLI, ensureBuilt, isolatedEnv, ROOT } from './cli-harness.js';

const LAYER3 = 'sha256:5bce0906cb255034f71682e86a18b4e836d880d262587ba718be0e97644a9cb4';
let registry: RegistryServer;
let bin: string;
let ref: string;

function shell(program: string, args: string[], script: string): string[] {
  const result = spawnSync(program, [...args, script], {
    env: { ...isolatedEnv(), PATH: `${bin}:${process.env.PATH}` },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`${program} failed (${result.status}): ${result.stderr}`);
  return result.stdout.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  ensureBuilt();
  registry = await startRegistry();
  await pushLayout(
    registry.url,
    join(ROOT, 'test', 'fixtures', 'images', 'mini-tricky', 'layout'),
    'fx/tricky',
    'v1',
  );
  ref = `${registry.host}/fx/tricky:v1`;
  bin = await mkdtemp(join(tmpdir(), 'starget-completion-'));
  await writeFile(join(bin, 'starget'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(join(bin, 'starget'), 0o755);
}, 60_000);

afterAll(async () => {
  await registry?.close();
  if (bin) await rm(bin, { recursive: true, force: true });
});

/** Runs the bash completion function for a line whose words bash would split as `words`. */
function bash(words: string[], line = words.join(' ')): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  return shell(
    'bash',
    ['-c'],
    `source <(starget completion bash)
COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}
COMP_LINE='${line.replace(/'/g, `'\\''`)}'; COMP_POINT=\${#COMP_LINE}
_starget_complete
printf '%s\\n' "\${COMPREPLY[@]}"`,
  );
}

describe('bash', () => {
  it('completes subcommands and flags', () => {
    expect(bash(['starget', 'c'])).toEqual(['cat', 'config', 'cache', 'completion']);
    expect(bash(['starget', 'ls', '--pl'])).toEqual(['--platform', '--plain-http']);
  });

  it('completes paths inside the image, escaping spaces', () => {
    expect(bash(['starget', 'ls', ref, 'b'])).toEqual(['big/', 'bin/']);
    expect(bash(['starget', 'cat', ref, 'big/64K-'])).toEqual(['big/64K-minus-1', 'big/64K-plus-1']);
    expect(bash(['starget', 'get', ref, 'data/file'])).toEqual(['data/file\\ with\\ spaces.txt']);
  });

  it('completes a layer digest across the ":" word break', () => {
    // bash splits "sha256:5bce" at ':' into "sha256" ":" "5bce"
    const line = `starget ls ${ref} sha256:5bce`;
    expect(bash(['starget', 'ls', ref, 'sha256', ':', '5bce'], line)).toEqual([
      LAYER3.slice('sha256:'.length),
    ]);
  });
});

describe('zsh', () => {
  function zsh(words: string[]): string[] {
    const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
    return shell(
      'zsh',
      ['-f', '-c'],
      `compdef() { :; }
compadd() { local suffix=' '; while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -S ]] && { suffix=$2; shift; }; shift; done; shift; local c; for c in "$@"; do print -r -- "\${c}<\${suffix}>"; done; }
_files() { print -r -- '<files>'; }
source <(starget completion zsh)
words=(${quoted}); CURRENT=${words.length}
_starget_complete`,
    );
  }

  it('completes subcommands, flags and paths inside the image', () => {
    // <suffix>: what zsh appends after accepting the candidate (none after a directory)
    expect(zsh(['starget', 'co'])).toEqual(['config< >', 'completion< >']);
    expect(zsh(['starget', 'ls', ref, 'data/n'])).toEqual(['data/nested/<>']);
    expect(zsh(['starget', 'cat', ref, 'data/file\\ w'])).toEqual(['data/file with spaces.txt< >']);
    expect(zsh(['starget', 'get', ref, 'app/main.sh', ''])).toEqual(['<files>']);
  });
});

describe('fish', () => {
  function fish(line: string): string[] {
    return shell(
      'fish',
      ['--no-config', '-c'],
      `starget completion fish | source\ncomplete -C '${line.replace(/'/g, "\\'")}'`,
    ).map((l) => l.split('\t')[0]!);
  }

  it('completes subcommands, flags and paths inside the image', () => {
    expect(fish('starget inf')).toEqual(['info']);
    expect(fish('starget ls --plain')).toEqual(['--plain-http']);
    expect(fish(`starget ls ${ref} big/e`)).toEqual(['big/exactly-64K']);
    expect(fish(`starget cat ${ref} data/file\\ w`)).toEqual(['data/file with spaces.txt']);
    expect(fish(`starget --platform linux/amd64 get ${ref} ap`)).toEqual(['app/']);
  });

  it('gives no candidates, quickly, for an image it cannot reach', () => {
    expect(fish('starget ls 127.0.0.1:1/nothing:v1 a')).toEqual([]);
  });
});
