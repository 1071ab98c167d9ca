/**
 * fsrgan teacher sample|build: build (or load) the synthetic teacher, then write sample grids and stats,
 * or save it to a directory.
 */
import { initBackend } from '../backend/index.js';
import { applySets, readJsonFile } from '../util/config.js';
import { outputError, UserError } from '../util/errors.js';
import {
  buildTeacher,
  disposeTeacher,
  formatTeacherStats,
  loadTeacher,
  resolveTeacherConfig,
  saveTeacher,
  writeTeacherSamples,
  type Teacher,
} from '../teacher/index.js';
import { intFlag, parseFlags } from './args.js';

const USAGE = [
  'fsrgan teacher sample (--config <file> | --teacher <dir>) --out <dir> [--n 512] [--seed N] [--grid 64] [--set key=value ...] [--json] [--backend B]',
  '       fsrgan teacher build --config <file> --out <dir> [--set key=value ...] [--backend B]',
  '  --seed: seed of the sampled z (default: the config seed); the teacher itself is fixed by the config (--set seed=N).',
].join('\n');

async function getTeacher(config: string | undefined, teacherDir: string | undefined, sets: string[], quiet: boolean): Promise<Teacher> {
  if (teacherDir !== undefined) {
    if (config !== undefined || sets.length) throw new UserError('give either --teacher <dir> or --config <file> (with --set), not both.');
    return loadTeacher(teacherDir);
  }
  if (config === undefined) throw new UserError(`--config <file> (or --teacher <dir>) is required.\nUsage: ${USAGE}`);
  const json = applySets((await readJsonFile(config, 'teacher config')) as Record<string, unknown>, sets);
  let cfg;
  try {
    cfg = resolveTeacherConfig(json);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${config}: ${e.message}`) : e;
  }
  return buildTeacher(cfg, quiet ? undefined : (m) => console.error(m));
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'teacher',
    argv,
    {
      config: { type: 'string' },
      teacher: { type: 'string' },
      out: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string' },
      grid: { type: 'string' },
      set: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      backend: { type: 'string' },
    },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  const sub = positionals[0];
  if (sub !== 'sample' && sub !== 'build') throw new UserError(`expected a subcommand, sample or build, got '${sub ?? ''}'.\nUsage: ${USAGE}`);
  if (positionals.length > 1) throw new UserError(`unexpected argument '${positionals[1]}'.\nUsage: ${USAGE}`);
  if (!values.out) throw new UserError(`--out <dir> is required.\nUsage: ${USAGE}`);
  const n = intFlag('n', values.n, 512, 1, 1_000_000);
  const grid = intFlag('grid', values.grid, 64, 1, 1024);
  await initBackend(values.backend);
  const teacher = await getTeacher(values.config, sub === 'build' ? undefined : values.teacher, values.set ?? [], !!values.json);
  try {
    if (sub === 'build') {
      await saveTeacher(values.out, teacher).catch((e) => {
        throw outputError(e, values.out!, 'the teacher folder');
      });
      console.log(`wrote ${values.out}/teacher.json and weights.bin`);
      return 0;
    }
    const seed = intFlag('seed', values.seed, teacher.config.seed, 0, 0xffffffff);
    const report = await writeTeacherSamples(teacher, { n, seed, out: values.out, grid }).catch((e) => {
      throw outputError(e, values.out!, 'the teacher samples folder');
    });
    if (values.json) console.log(JSON.stringify(report));
    else console.log(`${formatTeacherStats(report)}\nwrote ${report.files.map((f) => `${values.out}/${f}`).join(', ')}`);
    return 0;
  } finally {
    disposeTeacher(teacher);
  }
}
