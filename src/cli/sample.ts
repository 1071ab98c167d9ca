/** fsrgan sample: a PNG grid of images from a trained run at a seed (same run and seed -> same bytes). */
import { writeGridPng } from '../util/png.js';
import { initBackend } from '../backend/index.js';
import { outputError, UserError } from '../util/errors.js';
import { loadRun, sampleRun } from '../train/run.js';
import { intFlag, parseFlags } from './args.js';

const USAGE = 'fsrgan sample <run dir> --out <png> [--n 16] [--seed 0] [--ema] [--resolution R] [--mix-from SIDE] [--class NAME | --text "red heart" [--to "blue heart"]] [--backend ...]';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'sample',
    argv,
    { n: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, ema: { type: 'boolean' }, resolution: { type: 'string' }, 'mix-from': { type: 'string' }, backend: { type: 'string' }, class: { type: 'string' }, text: { type: 'string' }, to: { type: 'string' } },
    USAGE,
  );
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length !== 1) throw new UserError(`give exactly one run directory.\nUsage: ${USAGE}`);
  if (!values.out) throw new UserError(`--out <png> is required.\nUsage: ${USAGE}`);
  const n = intFlag('n', values.n, 16, 1, 4096);
  const seed = intFlag('seed', values.seed, 0, 0, 0xffffffff);
  const resolution = values.resolution === undefined ? undefined : intFlag('resolution', values.resolution, 0, 1, 1 << 16);
  // StyleGAN style mixing: the synthesis side from which a second latent's styles take over (src/models/stylegan.ts).
  const mixFrom = values['mix-from'] === undefined ? undefined : intFlag('mix-from', values['mix-from'], 0, 1, 1 << 16);
  await initBackend(values.backend);
  const r = await loadRun(positionals[0], { source: false, teacher: false });
  try {
    const x = sampleRun(r, { n, seed, ema: values.ema, resolution, mixFrom, className: values.class, text: values.text, textTo: values.to });
    // A class run without --class: one row per class, the same n latents in every row.
    const byClass = r.cond?.kind === 'class' && values.class === undefined;
    await writeGridPng(values.out, x, { scale: Math.max(1, Math.round(64 / x.shape[1])), ...(byClass ? { cols: n } : {}) }).catch((e) => {
      throw outputError(e, values.out!, 'the sample grid');
    });
    const what = byClass ? `, one row per class: ${r.cond!.classNames.join(', ')}` : values.class !== undefined ? `, class '${values.class}'` : values.to !== undefined ? `, text "${values.text}" to "${values.to}"` : values.text !== undefined ? `, text "${values.text}"` : '';
    console.log(`wrote ${x.shape[0]} samples at ${x.shape[1]}x${x.shape[2]} (step ${r.step}${values.ema ? ', EMA' : ''}${what}${mixFrom ? `, styles from side ${mixFrom} of a second latent set` : ''}) to ${values.out}`);
    x.dispose();
  } finally {
    r.dispose();
  }
  return 0;
}
