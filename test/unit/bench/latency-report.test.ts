import { describe, expect, it } from 'vitest';
import { buildLatencyPage } from '../../../bench/latency-report.ts';
import { uplotSources } from '../../../local/scenario/html-page.ts';
import { sampleLatencyPage } from '../../helpers/latency-page.ts';

describe('buildLatencyPage()', () => {
  it('makes one self-contained page: uPlot and its stylesheet inlined, nothing loaded from elsewhere', () => {
    // Act
    const html = buildLatencyPage(sampleLatencyPage());
    // Assess
    const { js, css } = uplotSources();
    expect(html).toContain(js);
    expect(html).toContain(css);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
  });

  it('carries every point and reference line to the plots and the table, and escapes text', () => {
    // Prepare
    const data = sampleLatencyPage();
    // Act
    const html = buildLatencyPage(data);
    // Assess
    const inlined = /const data = (.*);\n/.exec(html)?.[1] ?? 'null';
    const payload = JSON.parse(inlined.replace(/\\u003c/g, '<')) as {
      points: { rate: number; p99: number; saturated: boolean }[];
      references: { ms: number }[];
    };
    expect(payload.points.map((p) => [p.rate, p.p99, p.saturated])).toEqual([
      [500, 12, false],
      [1_000, 15, false],
      [3_000, 40, false],
      [5_000, 900, true],
    ]);
    expect(payload.references.map((r) => r.ms)).toEqual([100, 28]);
    expect(html.match(/<tr><td>/g)).toHaveLength(4);
    expect(html).toContain('<td>3,000</td>');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });
});
