/**
 * `<out>/index.html` of `fsrgan reproduce`: one self-contained page (files next to it, no scripts) with
 * the claims and their verdicts at the top, then every figure with its caption, charts, images, the
 * tables of numbers behind it, and the runs that produced it. It reads the fields below of the summary
 * (src/experiments/summary.ts `ReproduceSummary` has these and more).
 */
import { writeFile } from 'node:fs/promises';
import type { Table } from './figure-data.js';

/** A claim and its verdict. */
export interface PageClaim {
  figure: string;
  statement: string;
  /** null: not checked. */
  holds: boolean | null;
  detail: string;
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
  status: string;
  /** Training wall time recorded by the run, or null. */
  wallTime: number | null;
  figures: string[];
}

export interface Page {
  scale: string;
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

function verdict(holds: boolean | null): string {
  return holds === null ? '<span class="na">not checked</span>' : holds ? '<span class="ok">holds</span>' : '<span class="bad">does not hold</span>';
}

function figure(f: PageFigure, s: Page): string {
  const charts = f.charts
    .map((c) => `<figure><img src="${esc(c.svg)}" alt="${esc(c.title)}"><figcaption><a href="${esc(c.png)}">PNG</a> · <a href="${esc(c.svg)}">SVG</a> · <a href="${esc(c.spec)}">vega-lite</a></figcaption></figure>`)
    .join('\n');
  const images = f.images.map((im) => `<figure><img class="px" src="${esc(im.path)}" alt="${esc(im.caption)}"><figcaption>${esc(im.caption)}</figcaption></figure>`).join('\n');
  const claims = f.claims.map((c) => `<p class="claim"><b>Claim:</b> ${esc(c.statement)} <b>${verdict(c.holds)}</b>. ${esc(c.detail)}</p>`).join('\n');
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
    .map((c) => `<tr><td><a href="#${esc(c.figure)}">${esc(c.figure)}</a></td><td>${esc(c.statement)}</td><td>${verdict(c.holds)}</td><td>${esc(c.detail)}</td></tr>`)
    .join('\n');
  const runRows = s.runs
    .map((r) => `<tr><td><code>${esc(r.id)}</code></td><td>${esc(r.method)}</td><td>${esc(r.data)}</td><td class="num">${r.seed}</td><td class="num">${r.levels}</td><td class="num">${r.steps}</td><td>${esc(r.status)}</td><td class="num">${r.wallTime === null ? '&ndash;' : r.wallTime.toFixed(0)}</td><td>${esc(r.figures.join(', '))}</td></tr>`)
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
<p>Scale <b>${esc(s.scale)}</b>, backend ${esc(s.backend)} (tfjs ${esc(s.tfjs)}), created ${esc(s.created)}; ${s.runs.length} runs (training wall time recorded by the runs: ${trained.toFixed(0)} s); this call took ${s.seconds.total.toFixed(0)} s (training ${s.seconds.training.toFixed(0)} s, analysis ${s.seconds.analysis.toFixed(0)} s). Model and measurements: docs/theory.md; how this page is made: docs/figures.md. Numbers: <a href="summary.json">summary.json</a>.</p>
<h2>Claims</h2>
<table><thead><tr><th>figure</th><th>claim</th><th>verdict</th><th>numbers</th></tr></thead><tbody>
${claimRows}
</tbody></table>
${s.figures.map((f) => figure(f, s)).join('\n')}
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>method</th><th>data</th><th>seed</th><th>levels</th><th>G steps</th><th>status</th><th>train s</th><th>figures</th></tr></thead><tbody>
${runRows}
</tbody></table>
</body></html>
`;
}

export async function writeIndexHtml(file: string, s: Page): Promise<void> {
  await writeFile(file, indexHtml(s));
}
