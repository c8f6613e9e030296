/**
 * The functions' environment variables have one home (core/config/environment.ts): the
 * configuration page documents exactly those, with the same defaults; the functions' loaders
 * use those defaults; the CDK settings refuse a name that is not one of them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultOf,
  environmentVariableNames,
  environmentVariables,
  loadDriftConfig,
  loadSinkConfig,
} from '../../../core/index.ts';
import { resolveConfig } from '../../../infra/config.ts';
import { repoRoot } from '../../helpers/repo-root.ts';

/** Each documented variable's default cell, from docs/configuration.md's tables. */
function documentedDefaults(): Map<string, string> {
  const page = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const line of page.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').map((cell) => cell.trim());
    const names = [...(cells[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1] as string);
    for (const name of names) rows.set(name, cells.at(-2) ?? '');
  }
  return rows;
}

describe('the environment variables table', () => {
  const documented = documentedDefaults();

  it('is what docs/configuration.md documents, name for name', () => {
    expect([...documented.keys()].sort()).toEqual([...environmentVariableNames].sort());
  });

  it.each(
    Object.entries(environmentVariables).filter(
      ([name, v]) => 'default' in v && name !== 'SEQGUARD_MAPPING',
    ),
  )('%s: the page gives the same default', (name, variable) => {
    const value = String((variable as { default: unknown }).default);
    expect(documented.get(name)).toMatch(new RegExp(`^\`${value}\``));
  });

  it('gives the loaders their defaults', () => {
    const sink = loadSinkConfig({ REDIS_URL: 'redis://localhost:6379' });
    expect(sink.chunkSize).toBe(defaultOf('SEQGUARD_CHUNK_SIZE'));
    expect(sink.guard.keyPrefix).toBe(defaultOf('SEQGUARD_KEY_PREFIX'));
    expect(sink.redis.commandTimeoutMs).toBe(defaultOf('SEQGUARD_REDIS_TIMEOUT_MS'));
    const drift = loadDriftConfig({
      REDIS_URL: 'redis://localhost:6379',
      SEQGUARD_TOPICS: 't',
      SEQGUARD_CONSUMER_GROUP: 'g',
      SEQGUARD_KAFKA_BOOTSTRAP: 'localhost:9092',
    });
    expect(drift.replayLimit).toBe(defaultOf('SEQGUARD_REPLAY_LIMIT'));
    expect(drift.autoReplay).toBe(defaultOf('SEQGUARD_AUTO_REPLAY'));
  });

  it("makes the CDK settings refuse a sinkEnvironment name that is not one of the functions'", () => {
    expect(() => resolveConfig({ sinkEnvironment: { SEQGUARD_CHUNK_SIZ: '100' } })).toThrow(
      /sinkEnvironment.*SEQGUARD_CHUNK_SIZ/s,
    );
    expect(
      resolveConfig({
        sinkEnvironment: { SEQGUARD_CHUNK_SIZE: '100' },
        paging: { none: 'a unit test' },
      }).sinkEnvironment,
    ).toEqual({ SEQGUARD_CHUNK_SIZE: '100' });
  });

  it("leaves the settings' defaults out of cdk.json, which holds only CDK's feature flags", () => {
    const cdkJson = JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };
    const keys = Object.keys(cdkJson.context);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !key.startsWith('@aws-cdk/'))).toEqual([]);
  });
});
