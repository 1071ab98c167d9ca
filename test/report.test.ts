import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as charts from '../src/report/charts.js';
import * as dist from '../src/report/charts-distributions.js';
import { VEGALITE_MIME, compileSpec, renderSvg, svgToPng, writeFigure, type ChartSpec } from '../src/report/render.js';
import { chartBundle, showChart } from '../src/report/notebook.js';
import { UserError } from '../src/util/errors.js';

/** Text content of every <text> element, entities decoded. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'),
  );
}

/** Number of drawn marks of one kind (vega tags each item with its aria role description). */
function marks(svg: string, kind: string): number {
  return svg.split(`role="graphics-symbol" aria-roledescription="${kind}"`).length - 1;
}

/** Heights of the bar items, in drawing order (vega writes rects as M x,y h w v h h -w Z). */
function barHeights(svg: string): number[] {
  return [...svg.matchAll(/aria-roledescription="bar" d="M[-\d.e]+,[-\d.e]+h[-\d.e]+v([-\d.e]+)h/g)].map((m) => Number(m[1]));
}

/** aria-labels of one mark kind (they list the datum's encoded fields). */
function labels(svg: string, kind: string): string[] {
  return [...svg.matchAll(new RegExp(`aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="${kind}"`, 'g'))].map((m) => m[1]);
}

async function rendered(spec: ChartSpec): Promise<{ svg: string; t: string[] }> {
  compileSpec(spec); // throws on an invalid spec
  const svg = await renderSvg(spec);
  expect(svg.startsWith('<svg')).toBe(true);
  return { svg, t: texts(svg) };
}

describe('chart builders render with the planted number of marks', () => {
  it('metricCurves: one line per (series, stage) panel, one point per datum, one rule per floor per panel', async () => {
    const points: charts.MetricPoint[] = [];
    for (const stage of [1, 2]) for (const o of [1, 2, 3]) for (let s = 0; s < 5; s++) points.push({ step: 10 * s, value: (o + stage) / (1 + s), series: `order ${o}`, stage });
    const spec = charts.metricCurves({ title: 'Moment errors', caption: 'Relative moment error.', points, yTitle: 'relative error', noiseFloor: 0.05 });
    const { svg, t } = await rendered(spec);
    expect(t).toContain('Moment errors');
    expect(t).toContain('training step');
    expect(t).toContain('relative error');
    expect(t).toContain('order 3');
    expect(t).toContain('stage 2'); // facet header
    expect(marks(svg, 'line mark')).toBe(6);
    expect(marks(svg, 'point')).toBe(30);
    expect(marks(svg, 'rule mark')).toBe(2); // the stage-less floor is drawn in both panels
    expect(charts.captionOf(spec)).toBe('Relative moment error.');
  });

  it('metricCurves on a log scale omits non-positive values and says so in the caption', async () => {
    const points = [0, 1, 2, 3].map((s) => ({ step: s, value: s === 0 ? 0 : 1 / s, series: 'a' }));
    const spec = charts.metricCurves({ title: 'Log', caption: 'c.', points, yTitle: 'err', logY: true, stageLayout: 'color' });
    const { svg } = await rendered(spec);
    expect(marks(svg, 'point')).toBe(3);
    expect(charts.captionOf(spec)).toContain('1 non-positive value omitted');
  });

  it('countHistogram: one bar per (bin, group), heights proportional to the fractions', async () => {
    const groups = [
      { name: 'teacher', values: [1, 2, 2, 3] },
      { name: 'learner', values: [2, 5, 5, 5] },
      { name: 'random init', values: [8, 8] },
    ];
    const spec = dist.countHistogram({ title: 'Sparsity', caption: 'Active channels.', groups, xTitle: 'active channels per patch' });
    const { svg, t } = await rendered(spec);
    expect(t).toEqual(expect.arrayContaining(['Sparsity', 'active channels per patch', 'fraction of patches', 'random init']));
    expect(marks(svg, 'bar')).toBe(3 * 8); // bins 1..8, zeros included
    const nonzero = barHeights(svg).filter((h) => h > 0);
    expect(nonzero.length).toBe(6); // teacher 1,2,3; learner 2,5; random 8
    // Largest fraction: random init at 8 (1.0); learner at 5 is 0.75; teacher at 1 is 0.25.
    const max = Math.max(...nonzero);
    expect(nonzero.map((h) => h / max).sort()).toEqual([0.25, 0.25, 0.25, 0.5, 0.75, 1].map((v) => expect.closeTo(v, 6)));
  });

  it('heatmap: one rect per matrix entry with axis titles', async () => {
    const matrix = Array.from({ length: 5 }, (_, i) => Array.from({ length: 7 }, (_, j) => (i * j) / 24));
    const { svg, t } = await rendered(dist.heatmap({ title: 'Alignment', caption: 'c.', matrix, xTitle: 'G output atom', yTitle: 'D filter', valueTitle: '|cos|', domain: [0, 1] }));
    expect(t).toEqual(expect.arrayContaining(['Alignment', 'G output atom', 'D filter', '|cos|']));
    expect(marks(svg, 'rect mark')).toBe(35);
    // Distinct values get distinct colors: the planted matrix has 0 and 1 at the extremes of the domain.
    const fills = new Set([...svg.matchAll(/aria-roledescription="rect mark" d="[^"]*" fill="([^"]*)"/g)].map((m) => m[1]));
    expect(fills.size).toBeGreaterThan(5);
  });

  it('decayCurve: one line per layer and one point per distance', async () => {
    const layers = [2, 3, 4].map((l) => ({ name: `layer ${l}`, points: [0, 1, 2, 3].map((d) => ({ distance: d, value: Math.exp(-l * d) })) }));
    const { svg, t } = await rendered(dist.decayCurve({ title: 'Locality', caption: 'c.', layers, logY: true }));
    expect(t).toEqual(expect.arrayContaining(['Locality', 'distance from the perturbed patch (patches)', 'mean |change|', 'layer 4']));
    expect(marks(svg, 'line mark')).toBe(3);
    expect(marks(svg, 'point')).toBe(12);
  });

  it('groupedBars: one bar per row, one error rule per row with an error, heights proportional to values', async () => {
    const rows: charts.BarRow[] = [];
    [8, 16].forEach((r, i) => ['layerwise', 'random lower', 'end-to-end'].forEach((m, k) => rows.push({ group: r, method: m, value: (i + 1) * (k + 1), error: k === 2 ? undefined : 0.2 })));
    const { svg, t } = await rendered(charts.groupedBars({ title: 'Quality', caption: 'Mean over 3 seeds, bars one std.', rows, xTitle: 'resolution', yTitle: 'SWD' }));
    expect(t).toEqual(expect.arrayContaining(['Quality', 'resolution', 'SWD', 'end-to-end', '16']));
    expect(marks(svg, 'bar')).toBe(6);
    expect(marks(svg, 'rule mark')).toBe(4);
    const h = barHeights(svg);
    const max = Math.max(...h);
    expect(h.map((v) => v / max).sort()).toEqual([1, 2, 2, 3, 4, 6].map((v) => expect.closeTo(v / 6, 6)));
    expect(labels(svg, 'bar').some((l) => l.includes('random lower') && l.includes('16'))).toBe(true);
  });

  it('groupedBars: rows sharing a group and method (seeds) are one bar at their mean, never stacked', async () => {
    const rows: charts.BarRow[] = [0.1, 0.2, 0.3].flatMap((v) => [
      { group: 8, method: 'learner', value: v, error: 0.1 },
      { group: 8, method: 'random', value: 2 * v },
    ]);
    const spec = charts.groupedBars({ title: 'Sparsity', caption: 'Mean over 3 seeds.', rows, xTitle: 'layer', yTitle: 'fraction' });
    const values = (spec as unknown as { data: { values: { method: string; value: number; n: number; lo: number | null }[] } }).data.values;
    expect(values.map((v) => [v.method, v.n])).toEqual([['learner', 3], ['random', 3]]);
    expect(values[0].value).toBeCloseTo(0.2, 12);
    expect(values[0].lo).toBeCloseTo(0.1, 12);
    expect(values[1].lo).toBeNull();
    const { svg } = await rendered(spec);
    expect(marks(svg, 'bar')).toBe(2);
    const h = barHeights(svg);
    expect(Math.max(...h) / Math.min(...h)).toBeCloseTo(2, 6);
  });

  it('builders reject a chart without title or caption, and non-finite data', () => {
    expect(() => dist.heatmap({ title: '', caption: 'c', matrix: [[1]], xTitle: 'x', yTitle: 'y' })).toThrow(/heatmap: title/);
    expect(() => dist.decayCurve({ title: 't', caption: '', layers: [{ name: 'a', points: [] }] })).toThrow(/decayCurve: caption/);
    expect(() => dist.heatmap({ title: 't', caption: 'c', matrix: [[1, 2], [3]], xTitle: 'x', yTitle: 'y' })).toThrow(/row 1/);
    expect(() => charts.groupedBars({ title: 't', caption: 'c', rows: [{ group: 1, method: 'a', value: NaN }], xTitle: 'x', yTitle: 'y' })).toThrow(/finite/);
  });
});

describe('histogramBins', () => {
  it('matches a direct count, zeros included', () => {
    const v = [0, 3, 3, 4, 7, 7, 7, 9];
    expect(dist.histogramBins(v, 1).map((b) => b.count)).toEqual([1, 0, 0, 2, 1, 0, 0, 3, 0, 1]);
    expect(dist.histogramBins(v, 4)).toEqual([
      { lo: 0, count: 3 },
      { lo: 4, count: 4 },
      { lo: 8, count: 1 },
    ]);
  });
});

describe('metricsFromJsonl', () => {
  const text = [
    JSON.stringify({ step: 0, stage: 1, loss: 2, moments: { '1': 0.5, '2': 0.7 }, err: [0.1, 0.2], note: 'x' }),
    '',
    JSON.stringify({ step: 10, stage: 1, loss: 1.5, moments: { '1': 0.25, '2': 0.35 }, err: [0.05, 0.1] }),
    '{"step": 20, "stage": 1, "loss": 1.',
  ].join('\n');

  it('flattens nested fields into series and skips a truncated last line', () => {
    const pts = charts.metricsFromJsonl(text);
    const series = [...new Set(pts.map((p) => p.series))].sort();
    expect(series).toEqual(['err[0]', 'err[1]', 'loss', 'moments.1', 'moments.2']);
    expect(pts.filter((p) => p.series === 'moments.2')).toEqual([
      { step: 0, value: 0.7, series: 'moments.2', stage: 1 },
      { step: 10, value: 0.35, series: 'moments.2', stage: 1 },
    ]);
    expect(charts.metricsFromJsonl(text, /^moments\./).length).toBe(4);
  });

  it('throws a UserError naming the line for bad lines in the middle or a missing step', () => {
    expect(() => charts.metricsFromJsonl('{"step":1,"a":1}\n{oops\n{"step":2,"a":2}\n')).toThrow(/line 2 is not valid JSON/);
    expect(() => charts.metricsFromJsonl('{"step":1}\n{"a":1}\n')).toThrow(UserError);
    expect(() => charts.metricsFromJsonl('{"step":1}\n{"a":1}\n')).toThrow(/line 2 has no numeric "step"/);
    // A truncated line that ends with a newline was complete when written: an error, not a skip.
    expect(() => charts.metricsFromJsonl('{"step":1}\n{"step":\n')).toThrow(/line 2/);
  });
});

describe('render to files and notebook bundles', () => {
  const spec = dist.decayCurve({ title: 'Decay', caption: 'Mean change per distance.', layers: [{ name: 'l2', points: [{ distance: 0, value: 1 }, { distance: 1, value: 0.5 }] }] });

  it('writeFigure writes an SVG and a PNG that decodes at scale x the SVG size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fsrgan-report-'));
    try {
      const files = await writeFigure(spec, join(dir, 'sub', 'decay'), { scale: 2 });
      const svg = await readFile(files.svg, 'utf8');
      const [, w, h] = svg.match(/<svg[^>]* width="(\d+)" height="(\d+)"/) ?? [];
      expect(Number(w)).toBeGreaterThan(100);
      const png = PNG.sync.read(await readFile(files.png));
      expect(png.width).toBe(2 * Number(w));
      expect(png.height).toBe(2 * Number(h));
      // Not blank: the plot draws dark pixels (lines, text) on the white background.
      let dark = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 100) dark++;
      expect(dark).toBeGreaterThan(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('svgToPng renders text with system fonts (a title-only SVG has dark pixels where the text is)', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><text x="2" y="15" font-family="sans-serif" font-size="14">Title</text></svg>';
    const png = PNG.sync.read(svgToPng(svg, { scale: 1 }));
    expect([png.width, png.height]).toEqual([80, 20]);
    let dark = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 128) dark++;
    expect(dark).toBeGreaterThan(20);
  });

  it('chartBundle holds the spec, the SVG and the caption; showChart sends exactly that bundle', async () => {
    const b = await chartBundle(spec);
    expect(b[VEGALITE_MIME]).toBe(spec);
    expect(String(b['image/svg+xml'])).toMatch(/^<svg/);
    expect(b['text/plain']).toBe('Decay: Mean change per distance.');
    const sent: unknown[] = [];
    await showChart(spec, (x) => sent.push(x));
    expect(sent).toEqual([b]);
  });
});
