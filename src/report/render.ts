/**
 * Static rendering of vega-lite charts: spec -> SVG with vega's headless View (no browser, no canvas
 * package), SVG -> PNG with resvg. Notebooks show the spec itself (JupyterLab renders it) with this SVG as
 * the fallback for static viewers; the CLI writes both files with `writeFigure`.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A vega-lite 5 spec as accepted by `vl.compile`. */
export type ChartSpec = vl.TopLevelSpec;

/** The MIME type under which JupyterLab renders a vega-lite 5 spec. */
export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';

/** Compiles a vega-lite spec to a vega spec; throws an Error naming the chart when it does not compile. */
export function compileSpec(spec: ChartSpec): vega.Spec {
  try {
    return vl.compile(spec).spec;
  } catch (e) {
    throw new Error(`compileSpec: vega-lite could not compile chart '${chartTitle(spec)}': ${(e as Error).message}`);
  }
}

/** The chart's title text ('' when untitled). */
export function chartTitle(spec: ChartSpec): string {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && 'text' in t) {
    const text = (t as { text: unknown }).text;
    return Array.isArray(text) ? text.join(' ') : String(text);
  }
  return '';
}

/** Renders a vega-lite spec to an SVG document (a string starting with `<svg`). */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileSpec(spec)), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixels per SVG unit (default 2, sharp on high-density screens and in print). */
  scale?: number;
}

/**
 * Rasterises an SVG document to PNG bytes. Text uses the system's fonts (DejaVu Sans stands in for the
 * generic 'sans-serif' that vega writes, so output does not depend on which fonts a machine prefers).
 */
export function svgToPng(svg: string, opts: PngOptions = {}): Buffer {
  const scale = opts.scale ?? 2;
  if (!(scale > 0)) throw new Error(`svgToPng: scale must be > 0, got ${scale}`);
  const resvg = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
  });
  return resvg.render().asPng();
}

export interface FigureFiles {
  svg: string;
  png: string;
}

/** Writes `<fileBase>.svg` and `<fileBase>.png` for a vega-lite spec, creating the folder; returns the paths. */
export async function writeFigure(spec: ChartSpec, fileBase: string, opts: PngOptions = {}): Promise<FigureFiles> {
  const svg = await renderSvg(spec);
  const files = { svg: `${fileBase}.svg`, png: `${fileBase}.png` };
  await mkdir(dirname(fileBase), { recursive: true });
  await writeFile(files.svg, svg);
  await writeFile(files.png, svgToPng(svg, opts));
  return files;
}
