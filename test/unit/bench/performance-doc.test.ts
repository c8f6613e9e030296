import { describe, expect, it } from 'vitest';
import {
  benchBegin,
  benchEnd,
  costBegin,
  costEnd,
  expectedPages,
  PerformanceDocError,
  renderBenchSection,
  renderCostSection,
  withBenchSection,
  withCostSection,
} from '../../../bench/performance-doc.ts';
import { repositoryRoot } from '../../helpers/markdown.ts';

const results = [
  '# seqguard benchmarks',
  '',
  '2 cores (test CPU), 1 GiB, Node v24.0.0, Redis 7.0.0; 2026-01-01T00:00:00.000Z',
  '',
  '## Apply throughput',
  '',
  '| design | events/s |',
  '| --- | ---: |',
  '| seqguard guarded batch | 100,000 |',
  '',
  '## Cost per million events on ElastiCache (from the apply measurements above)',
  '',
  '| design | $ per 1M events |',
  '| --- | ---: |',
  '| seqguard guarded batch | $0.0006 |',
  '',
  'Inputs: a price as of a date.',
  '',
  '## Handler throughput',
  '',
  'Total time: 9 s.',
  '',
].join('\n');

const page = (generated: string) =>
  `# Performance\n\nProse before.\n\n${generated}\n\n## How to read these\n\nProse after.\n`;

describe('renderBenchSection()', () => {
  it('puts the results between the markers, headings one level down, the title dropped', () => {
    // Act
    const section = renderBenchSection(results);
    // Assess
    const lines = section.split('\n');
    expect(lines[0]).toBe(benchBegin);
    expect(lines.at(-1)).toBe(benchEnd);
    expect(section).not.toContain('# seqguard benchmarks');
    expect(section).toContain('\n### Apply throughput\n');
    expect(section).toContain(
      'The run in `bench/results.md` (written by `npm run bench`): 2 cores (test CPU)',
    );
    expect(section).toContain('| seqguard guarded batch | 100,000 |');
    expect(section).toContain('Total time: 9 s.');
  });

  it('makes the links of bench/results.md to files beside it point there from docs/', () => {
    // Prepare
    const withPlot = results.replace(
      'Total time',
      'Plotted on [results.html](results.html), after [Lambda](https://docs.aws.amazon.com/lambda/) and [above](#apply-throughput).\n\nTotal time',
    );
    // Act
    const section = renderBenchSection(withPlot);
    // Assess
    expect(section).toContain(
      'Plotted on [results.html](../bench/results.html), after [Lambda](https://docs.aws.amazon.com/lambda/) and [above](#apply-throughput).',
    );
  });

  it('refuses results without their title line', () => {
    expect(() => renderBenchSection('## Apply throughput\n')).toThrow(PerformanceDocError);
  });
});

describe('withBenchSection()', () => {
  it('replaces only the generated part, and a second pass changes nothing', () => {
    // Prepare
    const stale = page(`${benchBegin}\nold tables\n${benchEnd}`);
    // Act
    const fresh = withBenchSection(stale, results);
    // Assess
    expect(fresh).toBe(page(renderBenchSection(results)));
    expect(fresh).not.toContain('old tables');
    expect(withBenchSection(fresh, results)).toBe(fresh);
  });

  it('tells a page whose tables differ from the results: a new run changes it', () => {
    const fresh = withBenchSection(page(`${benchBegin}\n${benchEnd}`), results);
    const newer = results.replace('100,000', '120,000');
    expect(withBenchSection(fresh, newer)).not.toBe(fresh);
  });

  it.each([
    ['no markers', page('')],
    ['the end before the begin', page(`${benchEnd}\n${benchBegin}`)],
    ['a marker twice', page(`${benchBegin}\n${benchEnd}\n${benchBegin}\n${benchEnd}`)],
  ])('refuses a page with %s', (_, doc) => {
    expect(() => withBenchSection(doc, results)).toThrow(PerformanceDocError);
  });
});

describe('renderCostSection()', () => {
  it('takes the cost table and its inputs, without the heading or the next section', () => {
    // Act
    const section = renderCostSection(results);
    // Assess
    const lines = section.split('\n');
    expect(lines[0]).toBe(costBegin);
    expect(lines.at(-1)).toBe(costEnd);
    expect(section).toContain(
      'From the last full run in `bench/results.md` (2 cores (test CPU), 1 GiB, Node v24.0.0',
    );
    expect(section).toContain('| seqguard guarded batch | $0.0006 |');
    expect(section).toContain('Inputs: a price as of a date.');
    expect(section).not.toContain('## Cost per million');
    expect(section).not.toContain('Handler throughput');
    expect(section).not.toContain('100,000');
  });

  it('refuses results without a cost section', () => {
    expect(() => renderCostSection('# seqguard benchmarks\n\n## Apply throughput\n')).toThrow(
      PerformanceDocError,
    );
  });

  it("replaces only the README's cost part, and a second pass changes nothing", () => {
    const readme = `# seqguard\n\nBefore.\n\n${costBegin}\nold\n${costEnd}\n\nAfter.\n`;
    const fresh = withCostSection(readme, results);
    expect(fresh).toBe(`# seqguard\n\nBefore.\n\n${renderCostSection(results)}\n\nAfter.\n`);
    expect(withCostSection(fresh, results)).toBe(fresh);
    expect(() => withCostSection('# seqguard\n', results)).toThrow(PerformanceDocError);
  });
});

describe.each(['docs/performance.md', 'README.md'])('%s', (file) => {
  it('holds the tables of bench/results.md (run `npm run docs` after changing either)', async () => {
    const page = (await expectedPages(repositoryRoot)).find((p) => p.file === file);
    expect(page?.current).toBe(page?.expected);
  });
});
