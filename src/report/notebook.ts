/**
 * Showing charts and images in tslab notebooks. A chart goes out as ONE display bundle holding the
 * vega-lite spec (JupyterLab and VS Code render it interactively), its SVG (GitHub, nbviewer and nbconvert
 * HTML show that) and the caption as text/plain, so no viewer shows the chart twice.
 * Only notebooks import this file: it loads tslab at call time.
 */
import { createRequire } from 'node:module';
import type { Display } from 'tslab';
import { type ChartSpec, VEGALITE_MIME, chartTitle, renderSvg } from './render.js';
import { captionOf } from './charts.js';

/** A Jupyter display bundle: MIME type -> content (JSON for vega-lite, base64 for images). */
export type MimeBundle = Record<string, unknown>;

/** The bundle `showChart` sends: vega-lite spec, SVG fallback and caption. */
export async function chartBundle(spec: ChartSpec): Promise<MimeBundle> {
  const caption = captionOf(spec);
  const title = chartTitle(spec);
  return {
    [VEGALITE_MIME]: spec,
    'image/svg+xml': await renderSvg(spec),
    'text/plain': caption ? `${title}: ${caption}` : title,
  };
}

/** The bundle `showPng` sends. */
export function pngBundle(png: Uint8Array, alt: string): MimeBundle {
  return { 'image/png': Buffer.from(png).toString('base64'), 'text/plain': alt };
}

type Send = (bundle: MimeBundle) => void;

function load(name: string): unknown {
  // Notebooks run as CommonJS (tslab) where `require` exists; elsewhere resolve from the working directory.
  const req = typeof require === 'function' ? require : createRequire(`${process.cwd()}/`);
  return req(name);
}

/**
 * tslab's `display.raw` sends one MIME type per output. A multi-type bundle needs the function it calls
 * internally (tslab 1.0.22 `dist/jupyter.js`); when that is missing (another tslab version), fall back to
 * one output per type through the public API.
 */
function tslabSend(): Send {
  const internal = (load('tslab/dist/jupyter') as { lastWriteDisplayData?: unknown }).lastWriteDisplayData;
  if (typeof internal === 'function') {
    return (bundle) => (internal as (d: unknown, update: boolean) => void)({ data: bundle, metadata: {}, transient: {} }, false);
  }
  const display = (load('tslab') as { display: Display }).display;
  return (bundle) => {
    for (const [mime, content] of Object.entries(bundle)) if (mime !== 'text/plain') display.raw(mime, content as string);
  };
}

/** Shows a vega-lite chart in the running tslab notebook (vega-lite + SVG fallback + caption). */
export async function showChart(spec: ChartSpec, send: Send = tslabSend()): Promise<void> {
  send(await chartBundle(spec));
}

/** Shows PNG bytes (e.g. from src/util/png.ts or src/report/tiles.ts) with a text alternative. */
export function showPng(png: Uint8Array, alt: string, send: Send = tslabSend()): void {
  send(pngBundle(png, alt));
}
