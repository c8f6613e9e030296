import { describe, expect, it } from 'vitest';
import { uplotSources } from '../../../local/scenario/html-page.ts';
import { buildReport } from '../../../local/soak/report.ts';
import { sampleReport } from '../../helpers/soak-report.ts';

describe('buildReport()', () => {
  it('makes one self-contained page: uPlot and its stylesheet inlined, nothing loaded from elsewhere', () => {
    // Act
    const html = buildReport(sampleReport());
    // Assess
    const { js, css } = uplotSources();
    expect(html).toContain(js);
    expect(html).toContain(css);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
  });

  it('carries every point, fault and alarm to the page, and escapes text from the run', () => {
    const data = sampleReport();
    const html = buildReport(data);
    const inlined = /const data = (.*);\n/.exec(html)?.[1] ?? 'null';
    const payload = JSON.parse(inlined.replace(/\\u003c/g, '<')) as {
      series: unknown[];
      faults: unknown[];
      alarms: unknown[];
    };
    expect(payload.series).toHaveLength(data.series.length);
    expect(payload.faults).toHaveLength(3);
    expect(payload.alarms).toHaveLength(2);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    for (const title of [
      'Throughput',
      'Consumer lag',
      'Produce-to-visible latency',
      'Alarms in ALARM',
    ])
      expect(html).toContain(title);
  });

  it('says FAILED when the verdict failed', () => {
    const html = buildReport({ ...sampleReport(), ok: false });
    expect(html).toContain('<span class="verdict fail">FAILED</span>');
  });
});
