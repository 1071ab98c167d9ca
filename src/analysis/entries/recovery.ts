/** Registry entry: how well the learner recovers the teacher's atoms (recovery.ts; docs/analysis.md section 4). */
import { UserError } from '../../util/errors.js';
import { defineMeasurement, pick } from '../measurement.js';
import { teacherRecovery, type RecoveryReport } from '../recovery.js';
import { arr, nullable, num, obj, report } from '../schema.js';
import { table } from '../table.js';
import { sparsityOf } from './sparsity.js';

export const recovery = defineMeasurement<RecoveryReport, 'recovery'>({
  name: 'recovery',
  schema: report('recovery', {
    layers: arr(
      obj({
        layer: num,
        resolution: num,
        teacherAtoms: num,
        learnedAtoms: num,
        meanMatched: num,
        recovered: num,
        meanSigned: num,
        perAtom: arr(num),
        matchedTo: arr(num),
        stats: nullable(obj({ meanActive: num, activeFraction: num, hoyer: num })),
      }),
    ),
  }),
  // Not in the defaults: it needs a run trained on a synthetic teacher, and on a teacher alone it is 1.0 by construction.
  defaults: { run: false, teacher: false },
  // The sparsity comparison inside it reads the sparsity settings.
  settings: (c) => pick(c, 'samples', 'seed', 'chunk', 'sparsity', 'recovery'),
  onRun: ({ run, config: c }) => {
    const t = run.teacher;
    if (!t) throw new UserError(`recovery needs a run trained on a synthetic teacher; '${run.dir}' was trained on real data (drop recovery from --what).`);
    return { learner: teacherRecovery(run.generator, t.params, { threshold: c.recovery.threshold }, sparsityOf(run.generator, c), sparsityOf(t.params, c)) };
  },
  onTeacher: ({ teacher, config: c }) => ({ 'teacher vs itself': teacherRecovery(teacher.params, teacher.params, { threshold: c.recovery.threshold }) }),
  format: (results) => {
    const rows = results.flatMap(([k, r]) => r.layers.map((l) => [k, l.resolution, `${l.teacherAtoms}/${l.learnedAtoms}`, l.meanMatched, l.recovered, l.meanSigned, l.stats ? l.stats.meanActive : '-']));
    return table(['subject', 'r', 'atoms T/L', 'matched |cos|', 'recovered', 'signed', 'active rel.err'], rows);
  },
});
