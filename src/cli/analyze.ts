/**
 * `fsrgan analyze`: the measurements of docs/theory.md section 3 on a run directory (files in
 * <runDir>/analysis/<what>.json) or on a synthetic teacher alone (--teacher). Library: src/analysis.
 */
import { initBackend } from '../backend/index.js';
import { readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { buildTeacher, disposeTeacher, teacherConfigFromFile } from '../teacher/index.js';
import { loadRun } from '../train/run.js';
import {
  analyzeRun,
  analyzeTeacher,
  formatAnalysis,
  parseWhat,
  resolveAnalysisConfig,
  toJson,
  writeAnalysisFiles,
  type AnalysisFile,
  type AnalysisName,
} from '../analysis/index.js';
import { intFlag, parseFlags } from './args.js';
import { join } from 'node:path';

const USAGE =
  'fsrgan analyze <runDir> [--what sparsity,moments,alignment,recovery,locality,swd] [--json] [--ema]\n' +
  '       fsrgan analyze --teacher <teacher.json> [--out DIR] [--what sparsity,locality,moments,swd,recovery] [--json]\n' +
  '       common: [--samples N] [--seed N] [--config analysis.json] [--set key=value ...] [--backend B]';

const RUN_DEFAULT: AnalysisName[] = ['sparsity', 'moments', 'alignment', 'locality', 'swd'];
const TEACHER_DEFAULT: AnalysisName[] = ['sparsity', 'locality', 'moments'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'analyze',
    argv,
    {
      what: { type: 'string' },
      json: { type: 'boolean' },
      teacher: { type: 'string' },
      out: { type: 'string' },
      ema: { type: 'boolean' },
      samples: { type: 'string' },
      seed: { type: 'string' },
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (values.teacher ? positionals.length > 0 : positionals.length !== 1) {
    throw new UserError(`give either one run directory or --teacher <config>.\nUsage: ${USAGE}`);
  }
  await initBackend(values.backend);
  const user = values.config ? await readJsonFile(values.config, 'analysis config') : {};
  const sets = [...(values.set ?? [])];
  if (values.samples !== undefined) sets.push(`samples=${intFlag('samples', values.samples, 0, 4)}`);
  if (values.seed !== undefined) sets.push(`seed=${intFlag('seed', values.seed, 0)}`);
  const config = resolveAnalysisConfig(user, sets);
  // Progress goes to stderr so that --json output stays parseable.
  const log = (line: string) => console.error(line);
  let files: AnalysisFile[];
  let outDir: string | undefined;
  if (values.teacher) {
    if (values.ema) throw new UserError('--ema applies to a run directory, not to --teacher.');
    const what = parseWhat(values.what, TEACHER_DEFAULT);
    const teacher = buildTeacher(await teacherConfigFromFile(values.teacher), log);
    try {
      files = analyzeTeacher(teacher, what, config, values.teacher, log);
    } finally {
      disposeTeacher(teacher);
    }
    outDir = values.out;
  } else {
    const dir = positionals[0];
    const what = parseWhat(values.what, RUN_DEFAULT);
    const needSource = what.includes('moments') || what.includes('swd');
    const loaded = await loadRun(dir, { source: needSource });
    try {
      const generator = values.ema ? loaded.ema : loaded.generator;
      if (!generator) throw new UserError(`the run in '${dir}' kept no EMA generator (train.emaBeta = 0): drop --ema.`);
      files = analyzeRun({ ...loaded, generator }, what, config, log);
    } finally {
      loaded.dispose();
    }
    outDir = values.out ?? join(dir, 'analysis');
  }
  const paths = outDir ? await writeAnalysisFiles(outDir, files) : [];
  if (values.json) {
    console.log(toJson(files.length === 1 ? files[0] : files));
  } else {
    for (const f of files) console.log([...formatAnalysis(f), ''].join('\n'));
    for (const p of paths) console.log(`wrote ${p}`);
  }
  return 0;
}
