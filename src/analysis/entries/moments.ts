/** Registry entry: patch moments of generated against real images (moments.ts; docs/analysis.md section 2). */
import { discFirstLayer, type Discriminator } from '../../models/discriminator.js';
import type { Teacher } from '../../teacher/index.js';
import { bankColumns } from '../common.js';
import type { AnalysisConfig } from '../config.js';
import { defineMeasurement, pick } from '../measurement.js';
import { momentMatching, type CodeMap, type MomentReport } from '../moments.js';
import { arr, nullable, num, obj, report, str } from '../schema.js';
import { fmt, table } from '../table.js';

const orderError = obj({ order: num, relError: num, absError: num, normReal: num, noiseFloor: nullable(num) });

function momentOpts(c: AnalysisConfig, patch: number) {
  const { code: _code, codeBias: _bias, ...m } = c.moments;
  return { ...m, patch: m.patch || patch, seed: c.seed };
}

/** The code space phi(x) per resolution that moments.code asks for, where the run has it. */
function codeMaps(c: AnalysisConfig, resolutions: number[], discs: Map<number, Discriminator> | null, teacher: Teacher | null): Record<number, CodeMap> {
  const out: Record<number, CodeMap> = {};
  for (const r of resolutions) {
    if (c.moments.code === 'discriminator' && discs?.get(r)) {
      const d = discs.get(r)!;
      const w = discFirstLayer(d);
      const b = d.convs[0].b.dataSync();
      out[r] = { atoms: bankColumns(w, 'codeMaps'), bias: Array.from(b, (x) => -x), leak: d.leak, input: d.input, source: `D_r${r} first layer` };
      w.dispose();
    } else if (c.moments.code === 'teacher' && teacher?.params.blocks[r]) {
      const atoms = bankColumns(teacher.params.blocks[r].out, 'codeMaps');
      out[r] = { atoms, bias: new Array(atoms.length).fill(c.moments.codeBias), leak: 0, input: 'single', source: `teacher A_r${r}` };
    }
  }
  return out;
}

const withFloor = (e: { relError: number; noiseFloor: number | null } | undefined) => (e ? `${fmt(e.relError)}${e.noiseFloor !== null ? ` (${fmt(e.noiseFloor)})` : ''}` : '-');

export const moments = defineMeasurement<MomentReport, 'moments'>({
  name: 'moments',
  schema: report('moments', {
    levels: arr(
      obj({
        resolution: num,
        patchesReal: num,
        patchesFake: num,
        orders: arr(orderError),
        cross: nullable(orderError),
        code: nullable(obj({ source: str, features: num, orders: arr(orderError) })),
      }),
    ),
  }),
  realData: true,
  defaults: { run: true, teacher: true },
  settings: (c) => pick(c, 'samples', 'seed', 'chunk', 'moments'),
  onRun: (ctx) => {
    const { run, config: c } = ctx;
    const p = ctx.pyramids();
    return { learner: momentMatching(p.real, p.fake, momentOpts(c, run.generator.shape.patch), codeMaps(c, ctx.levels, run.discriminators, run.teacher)) };
  },
  onTeacher: (ctx) => {
    const { teacher, config: c } = ctx;
    const h = ctx.pair();
    const codes = c.moments.code === 'teacher' ? codeMaps(c, teacher.params.shape.resolutions, null, teacher) : {};
    return { 'teacher vs teacher': momentMatching(h.a, h.b, momentOpts(c, teacher.params.shape.patch), codes) };
  },
  format: (results) => {
    const rows = results.flatMap(([k, r]) =>
      r.levels.map((l) => [k, l.resolution, ...[1, 2, 3, 4].map((c) => withFloor(l.orders[c - 1])), withFloor(l.cross ?? undefined), l.code ? withFloor(l.code.orders[1] ?? l.code.orders[0]) : '-']),
    );
    return ['relative error ||M(real) - M(fake)|| / ||M(real)|| (noise floor)', ...table(['subject', 'r', 'o1', 'o2', 'o3', 'o4', 'cross', 'code o2'], rows)];
  },
});
