/** Short text tables of analysis files, for the CLI and notebooks: each measurement formats its own (registry.ts). */
import { measurement } from './registry.js';
import type { AnyAnalysisFile } from './validate.js';

/** Lines describing one analysis file. */
export function formatAnalysis(f: AnyAnalysisFile): string[] {
  const head = `${f.what} (${f.source}; ${f.backend}, ${f.seconds.toFixed(1)} s)`;
  return [head, ...measurement(f.what).format(Object.entries(f.results))];
}
