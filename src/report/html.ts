/**
 * `<out>/index.html` of `fsrgan reproduce`: one self-contained page (files next to it, no scripts) with
 * the claims and their verdicts at the top, then every figure with its caption, charts, images, the
 * tables of numbers behind it, and the runs that produced it. It reads the fields below of the summary
 * (src/experiments/summary.ts `ReproduceSummary` has these and more).
 */
import { writeFile } from 'node:fs/promises';
import type { Table } from './figure-data.js';

/** One test of a claim: a statistic over seeds with its interval (src/experiments/verdict.ts). */
export interface PageTest {
  key: string;
  statistic: string;
  threshold: number;
  holdsWhen: 'below' | 'above';
  seeds: number[];
  mean: number;
  lo: number | null;
  hi: number | null;
  converged: boolean | null;
  verdict: string;
  reason: string;
}

/** A claim and its verdict. */
export interface PageClaim {
  figure: string;
  statement: string;
  /** 'holds', 'does not hold' or 'inconclusive'. */
  verdict: string;
  detail: string;
  /** The verdict per data set (older summaries have none). */
  byData?: { data: string; verdict: string; detail: string }[];
  tests: PageTest[];
  interval: string;
  budget: { seeds: number[]; steps: Record<string, string>; samples: Record<string, number> };
}

/** A figure with its files relative to the page. */
export interface PageFigure {
  name: string;
  title: string;
  caption: string;
  charts: { svg: string; png: string; spec: string; title: string }[];
  images: { path: string; caption: string }[];
  tables: Table[];
  claims: PageClaim[];
  /** Ids of the runs it reads. */
  runs: string[];
}

export interface PageRun {
  id: string;
  method: string;
  data: string;
  seed: number;
  levels: number;
  steps: number;
  /** Steps per stage ('400' or '3000/6000/6000'). */
  stepsPerStage: string;
  status: string;
  /** Training wall time recorded by the run, or null. */
  wallTime: number | null;
  figures: string[];
}

export interface Page {
  scale: string;
  seeds: number[];
  created: string;
  backend: string;
  tfjs: string;
  seconds: { total: number; training: number; analysis: number };
  runs: PageRun[];
  figures: PageFigure[];
  claims: PageClaim[];
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);

function table(t: Table): string {
  const head = t.columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td${typeof v === 'number' ? ' class="num"' : ''}>${v === null ? '&ndash;' : esc(v)}</td>`).join('')}</tr>`).join('\n');
  // Long tables start folded so that the figures stay in view.
  return `<details${t.rows.length > 12 ? '' : ' open'}><summary>${esc(t.title)}</summary><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></details>`;
}

function verdict(v: string): string {
  return `<span class="${v === 'holds' ? 'ok' : v === 'does not hold' ? 'bad' : 'na'}">${esc(v)}</span>`;
}

const g3 = (x: number | null) => (x === null ? '&ndash;' : esc(Number.isFinite(x) ? Number(x.toPrecision(3)) : x));

/** What a claim's numbers rest on, in one line. */
function budget(c: PageClaim): string {
  const steps = Object.entries(c.budget.steps).map(([k, v]) => `${k} ${v}`).join(', ');
  const samples = Object.entries(c.budget.samples).map(([k, v]) => `${k} ${v}`).join(', ');
  return `seeds ${esc(c.budget.seeds.join(', ') || 'none')}; steps per stage: ${esc(steps || 'none')}${samples ? `; samples: ${esc(samples)}` : ''}; ${esc(c.interval)}`;
}

/** A claim's verdict per data set, in one line (empty with one data set or none recorded). */
function perData(c: PageClaim): string {
  if (!c.byData || c.byData.length < 2) return '';
  return `<br><span class="runs">per data set: ${c.byData.map((d) => `${esc(d.data)} ${verdict(d.verdict)}`).join('; ')}</span>`;
}

/** A claim's tests: statistic, seeds, mean and interval, threshold, convergence, verdict. */
function testTable(c: PageClaim): string {
  const rows = c.tests
    .map((t) => `<tr><td>${esc(t.key)}</td><td>${esc(t.statistic)}</td><td class="num">${t.seeds.length}</td><td class="num">${g3(t.mean)}</td><td class="num">[${g3(t.lo)}, ${g3(t.hi)}]</td><td>${esc(t.holdsWhen)} ${g3(t.threshold)}</td><td>${t.converged === null ? 'unknown' : t.converged ? 'yes' : 'no'}</td><td>${verdict(t.verdict)}</td></tr>`)
    .join('\n');
  return `<details${c.tests.length > 8 ? '' : ' open'}><summary>Tests (${c.tests.length})</summary><table><thead><tr><th>test</th><th>statistic</th><th>seeds</th><th>mean</th><th>95% interval</th><th>holds when</th><th>converged</th><th>verdict</th></tr></thead><tbody>\n${rows}\n</tbody></table></details>`;
}

function figure(f: PageFigure, s: Page): string {
  const charts = f.charts
    .map((c) => `<figure><img src="${esc(c.svg)}" alt="${esc(c.title)}"><figcaption><a href="${esc(c.png)}">PNG</a> · <a href="${esc(c.svg)}">SVG</a> · <a href="${esc(c.spec)}">vega-lite</a></figcaption></figure>`)
    .join('\n');
  const images = f.images.map((im) => `<figure><img class="px" src="${esc(im.path)}" alt="${esc(im.caption)}"><figcaption>${esc(im.caption)}</figcaption></figure>`).join('\n');
  const claims = f.claims.map((c) => `<div class="claim"><p><b>Claim:</b> ${esc(c.statement)} <b>${verdict(c.verdict)}</b>: ${esc(c.detail)}${perData(c)}</p><p class="runs">${budget(c)}</p>${testTable(c)}</div>`).join('\n');
  const runs = s.runs.filter((r) => f.runs.includes(r.id));
  return `<section id="${esc(f.name)}">
<h2>${esc(f.name)}: ${esc(f.title)}</h2>
<p class="caption">${esc(f.caption)}</p>
${claims}
<div class="charts">${charts}</div>
${images ? `<div class="images">${images}</div>` : ''}
${f.tables.map(table).join('\n')}
<p class="runs">Runs: ${runs.map((r) => `<code>${esc(r.id)}</code> (${esc(r.method)}, ${r.steps} steps)`).join(', ')}</p>
</section>`;
}

/** The page as a string. */
export function indexHtml(s: Page): string {
  const trained = s.runs.reduce((a, r) => a + (r.wallTime ?? 0), 0);
  const claimRows = s.claims
    .map((c) => `<tr><td><a href="#${esc(c.figure)}">${esc(c.figure)}</a></td><td>${esc(c.statement)}</td><td>${verdict(c.verdict)}${perData(c)}</td><td>${esc(c.detail)}<br><span class="runs">${budget(c)}</span></td></tr>`)
    .join('\n');
  const runRows = s.runs
    .map((r) => `<tr><td><code>${esc(r.id)}</code></td><td>${esc(r.method)}</td><td>${esc(r.data)}</td><td class="num">${r.seed}</td><td class="num">${r.levels}</td><td class="num">${r.steps}</td><td class="num">${esc(r.stepsPerStage)}</td><td>${esc(r.status)}</td><td class="num">${r.wallTime === null ? '&ndash;' : r.wallTime.toFixed(0)}</td><td>${esc(r.figures.join(', '))}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fsrgan figures (${esc(s.scale)})</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1150px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em} h2{border-top:1px solid #ccc;padding-top:.8em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px;margin:.4em 0} th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums} th{background:#f4f4f4}
.charts,.images{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start} figure{margin:0} figcaption{font-size:12px;color:#555;max-width:520px}
img{max-width:100%} img.px{image-rendering:pixelated;min-width:240px}
.ok{color:#1a7f37} .bad{color:#c62828} .na{color:#888} .claim{background:#f7f7f2;padding:6px 10px;border-left:4px solid #bbb}
.caption{color:#333} .runs{font-size:12px;color:#555} details summary{cursor:pointer;font-weight:600;margin-top:.4em}
</style></head><body>
<h1>fsrgan: the paper figures</h1>
<p>Scale <b>${esc(s.scale)}</b>, seeds ${esc(s.seeds.join(', '))}, backend ${esc(s.backend)} (tfjs ${esc(s.tfjs)}), created ${esc(s.created)}; ${s.runs.length} runs (training wall time recorded by the runs: ${trained.toFixed(0)} s); this call took ${s.seconds.total.toFixed(0)} s (training ${s.seconds.training.toFixed(0)} s, analysis ${s.seconds.analysis.toFixed(0)} s). Model and measurements: docs/theory.md; how this page is made: docs/figures.md. Numbers: <a href="summary.json">summary.json</a>.</p>
<h2>Claims</h2>
<table><thead><tr><th>figure</th><th>claim</th><th>verdict</th><th>numbers</th></tr></thead><tbody>
${claimRows}
</tbody></table>
${s.figures.map((f) => figure(f, s)).join('\n')}
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>method</th><th>data</th><th>seed</th><th>levels</th><th>G steps</th><th>per stage</th><th>status</th><th>train s</th><th>figures</th></tr></thead><tbody>
${runRows}
</tbody></table>
</body></html>
`;
}

export async function writeIndexHtml(file: string, s: Page): Promise<void> {
  await writeFile(file, indexHtml(s));
}
