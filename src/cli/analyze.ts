/**
 * `fsrgan analyze`: the measurements of docs/theory.md section 3 (the registry of src/analysis/registry.ts)
 * on a run directory (files in <runDir>/analysis/<what>.json; results shared with reproduce through the
 * run's analysis cache, src/train/rundir.ts) or on a synthetic teacher alone (--teacher). Library: src/analysis.
 */
import { initBackend } from '../backend/index.js';
import { readJsonFile } from '../util/config.js';
import { UserError } from '../util/errors.js';
import { buildTeacher, disposeTeacher, teacherConfigFromFile } from '../teacher/index.js';
import { loadRun } from '../train/run.js';
import { cachedAnalyses } from '../train/rundir.js';
import {
  analyzeRun,
  analyzeTeacher,
  defaultWhat,
  formatAnalysis,
  measurement,
  measurementNames,
  parseWhat,
  resolveAnalysisConfig,
  toJson,
  writeAnalysisFiles,
  type AnyAnalysisFile,
} from '../analysis/index.js';
import { intFlag, parseFlags } from './args.js';
import { join } from 'node:path';

/** The usage text, listing the measurements registered now. */
const usage = () =>
  `fsrgan analyze <runDir> [--what ${measurementNames().join(',')}] [--json] [--ema] [--out DIR]\n` +
  `       fsrgan analyze --teacher <teacher.json> [--out DIR] [--what ${measurementNames().filter((w) => measurement(w).onTeacher).join(',')}] [--json]\n` +
  '       common: [--samples N] [--seed N] [--config analysis.json] [--set key=value ...] [--backend B]';

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
    usage(),
  );
  if (values.help) return console.log(usage()), 0;
  if (values.teacher ? positionals.length > 0 : positionals.length !== 1) {
    throw new UserError(`give either one run directory or --teacher <config>.\nUsage: ${usage()}`);
  }
  await initBackend(values.backend);
  const user = values.config ? await readJsonFile(values.config, 'analysis config') : {};
  const sets = [...(values.set ?? [])];
  if (values.samples !== undefined) sets.push(`samples=${intFlag('samples', values.samples, 0, 4)}`);
  if (values.seed !== undefined) sets.push(`seed=${intFlag('seed', values.seed, 0)}`);
  const config = resolveAnalysisConfig(user, sets);
  // Progress goes to stderr so that --json output stays parseable.
  const log = (line: string) => console.error(line);
  let files: AnyAnalysisFile[];
  let outDir: string | undefined;
  if (values.teacher) {
    if (values.ema) throw new UserError('--ema applies to a run directory, not to --teacher.');
    const what = parseWhat(values.what, defaultWhat('teacher'));
    const teacher = buildTeacher(await teacherConfigFromFile(values.teacher), log);
    try {
      files = analyzeTeacher(teacher, what, config, values.teacher, log);
    } finally {
      disposeTeacher(teacher);
    }
    outDir = values.out;
  } else {
    const dir = positionals[0];
    const what = parseWhat(values.what, defaultWhat('run'));
    const loaded = await loadRun(dir, { source: what.some((w) => measurement(w).realData) });
    try {
      const generator = values.ema ? loaded.ema : loaded.generator;
      if (!generator) throw new UserError(`the run in '${dir}' kept no EMA generator (train.emaBeta = 0): drop --ema.`);
      // Real images are the training stream at the checkpoint (reproduce uses held-out ones): part of the cache key.
      const subject = { generator: values.ema ? 'ema' : 'learner', real: 'train' } as const;
      files = await cachedAnalyses(loaded, what, config, subject, (missing) => analyzeRun({ ...loaded, generator, learner: values.ema ? loaded.emaLearner : loaded.learner }, missing, config, log), log);
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
