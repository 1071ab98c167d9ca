/**
 * The one validating reader of metrics.jsonl text (src/train/metrics.ts writes it): one JSON object per
 * line with a finite numeric `step`. It lives in util because both the run-directory module
 * (src/train/rundir.ts, which reads the file) and the pure chart code (src/report/charts.ts, which is
 * handed the text) parse it, and report may not import train.
 */
import { UserError } from './errors.js';

/** One line of metrics.jsonl: `step`, usually `stage` and numbers; guard events also carry strings. */
export type MetricsLine = { step: number } & Record<string, unknown>;

/**
 * The lines of metrics.jsonl text. A truncated last line (a run killed mid-write) is skipped; any other
 * line that is not JSON, not an object, or has no finite numeric `step` is a UserError naming the line.
 */
export function parseMetricsLines(text: string): MetricsLine[] {
  const lines = text.split('\n');
  const out: MetricsLine[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (isLast && !text.endsWith('\n')) return;
      throw new UserError(`metrics.jsonl line ${i + 1} is not valid JSON; fix or delete that line.`);
    }
    if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new UserError(`metrics.jsonl line ${i + 1} must be a JSON object with a numeric "step".`);
    const { step } = rec as Record<string, unknown>;
    if (typeof step !== 'number' || !Number.isFinite(step)) throw new UserError(`metrics.jsonl line ${i + 1} has no numeric "step" field.`);
    out.push(rec as MetricsLine);
  });
  return out;
}
