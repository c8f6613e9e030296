/**
 * The CDK settings (infra/config.ts): every key is in docs/deploying.md's settings table, and the
 * zones a user names are checked before anything is synthesized.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contextSchema, resolveConfig } from '../../../infra/config.ts';
import { existingClusters } from '../../helpers/cdk.ts';
import { repoRoot } from '../../helpers/repo-root.ts';

/** The keys of the settings table: the backquoted names of its first column. */
function documentedKeys(): Set<string> {
  const page = readFileSync(join(repoRoot, 'docs', 'deploying.md'), 'utf8');
  const table = page.slice(
    page.indexOf('## Settings'),
    page.indexOf('\n## ', page.indexOf('## Settings') + 1),
  );
  const keys = new Set<string>();
  for (const line of table.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split('|')[1] ?? '';
    for (const match of first.matchAll(/`([A-Za-z]+)`/g)) keys.add(match[1] as string);
  }
  return keys;
}

/** Who is paged is always decided (infra/config.ts); here, nobody, for a unit test. */
const decided = { paging: { none: 'a unit test' } };

describe('the settings table of docs/deploying.md', () => {
  it('documents every key of the settings, and no other', () => {
    expect([...documentedKeys()].sort()).toEqual(Object.keys(contextSchema.shape).sort());
  });
});

describe('availabilityZones', () => {
  it('names the zones, and its length is the zone count', () => {
    const config = resolveConfig({ ...decided, availabilityZones: ['eu-west-1a', 'eu-west-1c'] });
    expect(config.availabilityZones).toEqual(['eu-west-1a', 'eu-west-1c']);
    expect(config.azCount).toBe(2);
    expect(resolveConfig(decided).availabilityZones).toBeUndefined();
    expect(resolveConfig(decided).azCount).toBe(3);
  });

  it('takes JSON from the command line (-c availabilityZones=…)', () => {
    const config = resolveConfig({
      ...decided,
      availabilityZones: '["us-east-1a","us-east-1b","us-east-1d"]',
    });
    expect(config.availabilityZones).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1d']);
    expect(config.azCount).toBe(3);
  });

  it.each([
    [['eu-west-1a'], /two or three zones/],
    [['eu-west-1a', 'eu-west-1b', 'eu-west-1c', 'eu-west-1d'], /two or three zones/],
    [['eu-west-1a', 'eu-west-1a'], /each zone once/],
    [['eu-west-1a', 'us-east-1b'], /zones of one region/],
    [['euw1-az1', 'euw1-az2'], /an availability zone name/],
    [['us-east-1-bos-1a', 'us-east-1a'], /an availability zone name/],
  ])('refuses %j', (zones, problem) => {
    expect(() => resolveConfig({ ...decided, availabilityZones: zones })).toThrow(problem);
  });

  it('refuses an azCount that disagrees, and accepts one that agrees', () => {
    expect(() =>
      resolveConfig({ ...decided, azCount: 3, availabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
    ).toThrow(/azCount: 3, but availabilityZones names 2 zones/);
    expect(
      resolveConfig({ ...decided, azCount: '2', availabilityZones: ['eu-west-1a', 'eu-west-1b'] })
        .azCount,
    ).toBe(2);
  });

  it('is not used with existing clusters, which name their own zones', () => {
    expect(() =>
      resolveConfig({
        ...decided,
        existing: existingClusters,
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      }),
    ).toThrow(/availabilityZones: not used with existing/);
  });
});
