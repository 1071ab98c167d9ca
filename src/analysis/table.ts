/** Plain-text tables for the `format` of each measurement (registry.ts): the CLI's and notebooks' view. */

/** A number as the tables show it: integers whole, others with 3 decimals or in exponent form. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 0.01 ? x.toFixed(3) : x.toExponential(1);
}

/** Lines of a table: the first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: (string | number)[][]): string[] {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), ...cells.map(line)];
}
