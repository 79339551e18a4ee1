import { describe, expect, it } from 'vitest';
import { planLsArguments } from '../../../src/cli/commands/ls.js';
import { planGetArguments } from '../../../src/cli/get-args.js';
import { StargzError } from '../../../src/errors.js';

const D = `sha256:${'ab'.repeat(32)}`;
const E = `sha256:${'cd'.repeat(32)}`;

describe('planGetArguments', () => {
  it.each([
    { args: ['bin/echo'], flags: {}, plan: { patterns: ['bin/echo'], output: '.', mode: 'target' } },
    {
      args: ['bin/echo', 'out/echo'],
      flags: {},
      plan: { patterns: ['bin/echo'], output: 'out/echo', mode: 'target' },
    },
    {
      args: [D, 'bin/', 'out/'],
      flags: {},
      plan: { layer: D, patterns: ['bin/'], output: 'out/', mode: 'target' },
    },
    { args: [D, 'bin/'], flags: {}, plan: { layer: D, patterns: ['bin/'], output: '.', mode: 'target' } },
    {
      args: ['a', 'b', 'c'],
      flags: { output: 'dir' },
      plan: { patterns: ['a', 'b', 'c'], output: 'dir', mode: 'tree' },
    },
    {
      args: [D, 'a', 'b'],
      flags: { output: 'o' },
      plan: { layer: D, patterns: ['a', 'b'], output: 'o', mode: 'tree' },
    },
    { args: ['a'], flags: { layer: D }, plan: { layer: D, patterns: ['a'], output: '.', mode: 'target' } },
    { args: [D, 'a'], flags: { layer: D }, plan: { layer: D, patterns: ['a'], output: '.', mode: 'target' } },
    // a digest alone is a pattern (there is nothing else to get)
    { args: [D], flags: {}, plan: { patterns: [D], output: '.', mode: 'target' } },
  ])('$args $flags', ({ args, flags, plan }) => {
    expect(planGetArguments(args, flags)).toEqual(plan);
  });

  it.each([
    { args: ['a', 'b', 'c'], flags: {}, message: /use -o DIR/ },
    { args: [D, 'a'], flags: { layer: E }, message: /two different layers/ },
    { args: ['a'], flags: { layer: 'nope' }, message: /not a layer digest/ },
    { args: [''], flags: {}, message: /empty PATTERN/ },
    { args: ['a'], flags: { output: '' }, message: /-o needs a directory/ },
  ])('refuses $args $flags', ({ args, flags, message }) => {
    const attempt = () => planGetArguments(args, flags);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect(StargzError.is(error) && error.code).toBe('E_USAGE');
    }
  });
});

describe('planLsArguments', () => {
  it.each([
    { args: [], flags: {}, plan: { patterns: [] } },
    { args: ['bin/'], flags: {}, plan: { patterns: ['bin/'] } },
    { args: [D], flags: {}, plan: { layer: D, patterns: [] } },
    { args: [D, 'a', 'b'], flags: {}, plan: { layer: D, patterns: ['a', 'b'] } },
    { args: ['a'], flags: { layer: D }, plan: { layer: D, patterns: ['a'] } },
  ])('$args $flags', ({ args, flags, plan }) => {
    expect(planLsArguments(args, flags)).toEqual(plan);
  });

  it('refuses two different layers and empty patterns', () => {
    expect(() => planLsArguments([D], { layer: E })).toThrow(/two different layers/);
    expect(() => planLsArguments([''], {})).toThrow(/empty PATTERN/);
  });
});
