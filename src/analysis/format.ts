/** Short text tables of analysis files, for the CLI and notebooks. */
import type { AnalysisFile, ReportTypes } from './validate.js';

function table(head: string[], rows: (string | number)[][]): string[] {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), ...cells.map(line)];
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 0.01 ? x.toFixed(3) : x.toExponential(1);
}

const withFloor = (e: { relError: number; noiseFloor: number | null } | undefined) =>
  e ? `${fmt(e.relError)}${e.noiseFloor !== null ? ` (${fmt(e.noiseFloor)})` : ''}` : '-';

/** Lines describing one analysis file. */
export function formatAnalysis(f: AnalysisFile): string[] {
  const out = [`${f.what} (${f.source}; ${f.backend}, ${f.seconds.toFixed(1)} s)`];
  const entries = Object.entries(f.results);
  switch (f.what) {
    case 'sparsity': {
      const rows = entries.flatMap(([k, r]) =>
        (r as ReportTypes['sparsity']).layers.map((l) => [k, l.resolution, l.channels, l.exact.meanActive, l.exact.activeFraction, l.relative.meanActive, l.hoyer, l.emptyFraction]),
      );
      out.push(...table(['model', 'r', 'C', 'active', 'fraction', 'active>tau*max', 'hoyer', 'empty'], rows));
      break;
    }
    case 'moments': {
      const rows = entries.flatMap(([k, r]) =>
        (r as ReportTypes['moments']).levels.map((l) => [k, l.resolution, ...[1, 2, 3, 4].map((c) => withFloor(l.orders[c - 1])), withFloor(l.cross ?? undefined), l.code ? withFloor(l.code.orders[1] ?? l.code.orders[0]) : '-']),
      );
      out.push('relative error ||M(real) - M(fake)|| / ||M(real)|| (noise floor)');
      out.push(...table(['subject', 'r', 'o1', 'o2', 'o3', 'o4', 'cross', 'code o2'], rows));
      break;
    }
    case 'alignment': {
      const rows = entries.map(([k, r]) => {
        const a = r as ReportTypes['alignment'];
        return [k, `${a.reference}x${a.target}`, a.dim, a.observed.meanMatched, `${fmt(a.random.meanMatched)} +- ${fmt(a.random.stdMatched)}`, a.observed.meanBest, a.random.meanBest];
      });
      out.push(...table(['pair', 'banks', 'dim', 'matched |cos|', 'random', 'best', 'random best'], rows));
      break;
    }
    case 'recovery': {
      const rows = entries.flatMap(([k, r]) =>
        (r as ReportTypes['recovery']).layers.map((l) => [k, l.resolution, `${l.teacherAtoms}/${l.learnedAtoms}`, l.meanMatched, l.recovered, l.meanSigned, l.stats ? l.stats.meanActive : '-']),
      );
      out.push(...table(['subject', 'r', 'atoms T/L', 'matched |cos|', 'recovered', 'signed', 'active rel.err'], rows));
      break;
    }
    case 'locality': {
      const maxD = 4;
      const rows = entries.flatMap(([k, r]) =>
        (r as ReportTypes['locality']).layers.map((l) => [
          k,
          l.resolution,
          l.profile[0]?.meanAbsChange ?? 0,
          ...Array.from({ length: maxD }, (_, d) => l.profile.find((e) => e.distance === d + 1)?.relative ?? '-'),
          `${l.observedRadius}/${l.receptiveRadius}`,
        ]),
      );
      out.push('mean |dx_l| / eps at distance 0, then relative to it at distance 1..4 (patches)');
      out.push(...table(['model', 'r', 'd=0', 'd=1', 'd=2', 'd=3', 'd=4', 'radius obs/rf'], rows));
      break;
    }
    case 'swd': {
      const rows = entries.flatMap(([k, r]) => (r as ReportTypes['swd']).levels.map((l) => [k, l.resolution, l.patch, l.descriptors, l.swd]));
      out.push(...table(['subject', 'r', 'patch', 'descriptors', 'swd'], rows));
      break;
    }
  }
  return out;
}
