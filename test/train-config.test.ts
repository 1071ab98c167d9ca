/** The training config: defaults, presets, overrides, and a clear UserError naming the field for each mistake. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfigFile, PRESETS, resolveConfig } from '../src/train/config.js';
import { checkSourceMatches, openTrainData } from '../src/train/data.js';
import { buildSchedule } from '../src/train/stages.js';
import { UserError } from '../src/util/errors.js';
import { run as trainCli } from '../src/cli/train.js';
import type { PyramidSource } from '../src/data/source.js';

const OK = { data: 'experiments/teacher-small.json', generator: { resolutions: [8, 16, 32], channels: [16, 16, 16], zDim: 16, patch: 4 } };
const fails = (user: unknown, re: RegExp, sets: string[] = []) => {
  let err: unknown;
  try {
    resolveConfig(user, { sets });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  expect((err as Error).message).toMatch(re);
};

describe('train config', () => {
  it('fills defaults, applies the preset under the file, then --set and --seed', () => {
    const c = resolveConfig({ ...OK, preset: 'wgan-gp', train: { lrD: 0.0003 } }, { sets: ['train.batch=8', 'discriminator.widths=[16,32,64]'], seed: 9, file: 'experiments/x.json' });
    expect(c.name).toBe('x');
    expect(c.seed).toBe(9);
    expect(c.objective.name).toBe('wgan-gp'); // from the preset
    expect(c.train.dSteps).toBe(5);
    expect(c.train.lrD).toBe(0.0003); // the file beats the preset
    expect(c.train.batch).toBe(8);
    expect(c.discriminator.widths).toEqual([16, 32, 64]);
    expect(c.log).toEqual(DEFAULT_CONFIG.log);
    for (const name of Object.keys(PRESETS)) expect(() => resolveConfig({ ...OK, preset: name })).not.toThrow();
  });

  it('rejects an unknown key, suggesting the near one', () => fails({ ...OK, train: { lrg: 0.1 } }, /unknown key config\.train\.lrg \(did you mean config\.train\.lrG\?\)/));
  it('rejects a wrong type naming the field', () => fails({ ...OK, train: { batch: '32' } }, /config\.train\.batch must be a number, got string/));
  it('rejects a non-integer batch', () => fails({ ...OK, train: { batch: 2.5 } }, /config\.train\.batch must be an integer >= 1, got 2\.5/));
  it('rejects an unknown objective and mode', () => {
    fails({ ...OK, objective: { name: 'gan' } }, /config\.objective\.name must be one of ns, minimax, wgan, wgan-gp, lsgan, hinge, ragan/);
    fails({ ...OK, train: { mode: 'greedy' } }, /config\.train\.mode must be one of layerwise, random-lower, end-to-end/);
    fails({ ...OK, preset: 'fast' }, /config\.preset must be one of dcgan/);
  });
  it('rejects an impossible resolution schedule', () => {
    fails({ ...OK, generator: { ...OK.generator, resolutions: [8, 12, 32] } }, /config\.generator\.resolutions must double at each layer \(got 8 then 12\)/);
    fails({ ...OK, generator: { ...OK.generator, channels: [16, 16] } }, /config\.generator\.channels must have one entry per resolution \(3\)/);
    fails({ ...OK, generator: { ...OK.generator, patch: 3 } }, /multiple of config\.generator\.patch = 3/);
    fails({ ...OK, train: { stepsByLevel: [10, 10] } }, /config\.train\.stepsByLevel must be empty or have one entry per resolution \(3\), got 2/);
    fails({ ...OK, discriminator: { crop: 6 } }, /config\.discriminator\.crop = 6 must be a multiple of config\.generator\.patch = 4/);
  });
  it('refuses a skip upsampling without the skip, and an unknown one', () => {
    fails({ ...OK, generator: { ...OK.generator, skipUpsample: 'bilinear' } }, /config\.generator\.skipUpsample = 'bilinear' acts only through the skip: set generator\.skip to true/);
    fails(OK, /config\.generator\.skipUpsample must be one of nearest, bilinear/, ['generator.skip=true', 'generator.skipUpsample=bicubic']);
    expect(resolveConfig(OK, { sets: ['generator.skip=true', 'generator.skipUpsample=bilinear'] }).generator.skipUpsample).toBe('bilinear');
  });
  it('--set with a wrong type names the field', () => fails(OK, /config\.train\.steps must be a number, got string/, ['train.steps=many']));
  it('rejects a missing dataset', () => fails({ generator: OK.generator }, /config\.data is required/));

  it('rejects a dataset that does not exist, naming config.data', async () => {
    const c = resolveConfig({ ...OK, data: 'experiments/no-such-teacher.json' });
    await expect(openTrainData(c)).rejects.toThrow(/config\.data: the teacher config 'experiments\/no-such-teacher\.json' does not exist/);
    const d = resolveConfig({ ...OK, data: 'no-such-dataset' });
    await expect(openTrainData(d)).rejects.toThrow(/config\.data: unknown dataset 'no-such-dataset'/);
  });

  it('rejects data whose resolutions differ, and a learner narrower than the teacher', () => {
    const c = resolveConfig(OK);
    const src = { resolutions: [4, 8, 16], channels: 3 } as PyramidSource;
    expect(() => checkSourceMatches(c, src)).toThrow(/config\.generator\.resolutions is \[8,16,32\] but the data .* has resolutions \[4,8,16\]: set generator\.resolutions to \[4,8,16\]/);
    const ok = { resolutions: [8, 16, 32], channels: 3 } as PyramidSource;
    expect(() => checkSourceMatches(c, ok, [16, 24, 16])).toThrow(/config\.generator\.channels\[1\] = 16 is narrower than the teacher's 24/);
    expect(() => checkSourceMatches(c, ok, [16, 16, 16])).not.toThrow();
  });

  it('schedules: stages as data, freezing by resolution', () => {
    const lw = buildSchedule([4, 8], 'layerwise', [5, 7]);
    expect(lw).toEqual([
      { level: 1, resolution: 4, steps: 5, trained: ['g.r4.deconv', 'g.r4.bias', 'g.r4.out'], frozen: ['g.r8.deconv', 'g.r8.bias', 'g.r8.out'], discInput: 'single', outputs: [4], calibrate: [0], oracle: [], untrainedHeads: [] },
      { level: 2, resolution: 8, steps: 7, trained: ['g.r8.deconv', 'g.r8.bias', 'g.r8.out'], frozen: ['g.r4.deconv', 'g.r4.bias', 'g.r4.out'], discInput: 'pair', outputs: [4, 8], calibrate: [1], oracle: [], untrainedHeads: [] },
    ]);
    // random-lower calibrates its random lower layer too (data-free), so the baseline starts at the same scale.
    expect(buildSchedule([4, 8], 'random-lower', [5, 7]).map((s) => [s.level, s.steps, s.trained, s.discInput, s.calibrate, s.untrainedHeads])).toEqual([[2, 7, ['g.r8.deconv', 'g.r8.bias', 'g.r8.out'], 'single', [0, 1], [0]]]);
    expect(buildSchedule([4, 8], 'end-to-end', [5, 7])[0].frozen).toEqual(['g.r4.out']);
    // oracle-lower: one stage at the chosen level, the teacher's layers below it.
    const or = buildSchedule([4, 8, 16], 'oracle-lower', [5, 7, 9], 2);
    expect(or.map((s) => [s.level, s.steps, s.trained, s.discInput, s.oracle, s.calibrate, s.outputs])).toEqual([[2, 7, ['g.r8.deconv', 'g.r8.bias', 'g.r8.out'], 'pair', [0], [1], [4, 8]]]);
    expect(buildSchedule([4, 8, 16], 'oracle-lower', [5, 7, 9])[0].oracle).toEqual([0, 1]);
  });

  it('fsrgan train --dry-run prints the resolved config; flag mistakes are UserErrors', async () => {
    const logs: string[] = [];
    const orig = console.log;
    console.log = (m: string) => logs.push(m);
    try {
      expect(await trainCli(['--config', 'experiments/smoke.json', '--dry-run', '--set', 'train.batch=4', '--seed', '5'])).toBe(0);
    } finally {
      console.log = orig;
    }
    const printed = JSON.parse(logs.join('\n'));
    expect(printed).toMatchObject({ name: 'smoke', seed: 5, train: { batch: 4 } });
    await expect(trainCli(['--dry-run'])).rejects.toThrow(/--config <file> is required/);
    await expect(trainCli(['--config', 'experiments/smoke.json', '--seed', 'x', '--dry-run'])).rejects.toThrow(/--seed must be an integer/);
    await expect(trainCli(['--config', 'nope.json'])).rejects.toThrow(/cannot read training config file 'nope\.json': no such file/);
    // 5,000 levels of nesting overflowed the stack of the mergers (issue 22 case 4): refused up front.
    let deep = '1';
    for (let i = 0; i < 5000; i++) deep = `{"a":${deep}}`;
    await expect(trainCli(['--config', 'experiments/smoke.json', '--set', `generator.init=${deep}`, '--dry-run'])).rejects.toThrow(/nests objects or arrays more than 64 levels deep/);
    // Sizes that cannot fit are refused before anything is allocated (issue 22 case 4), naming the term.
    await expect(trainCli(['--config', 'experiments/smoke.json', '--set', 'train.batch=1000000000', '--dry-run'])).rejects.toThrow(/needs about \d+ GB \(mostly activations \(train\.batch/);
    await expect(trainCli(['--config', 'experiments/smoke.json', '--set', 'generator.channels=[100000,100000,100000]', '--dry-run'])).rejects.toThrow(/mostly weights \(generator\.channels/);
    await expect(trainCli(['--config', 'experiments/smoke.json', '--set', 'log.samples=1000000000', '--dry-run'])).rejects.toThrow(/mostly sample images \(log\.samples/);
    // The seed field in a config has the flag's range (issue 22 case 8: 2^32 silently gave seed 0's run).
    await expect(trainCli(['--config', 'experiments/smoke.json', '--set', 'seed=4294967296', '--dry-run'])).rejects.toThrow(/config\.seed must be at most 4294967295/);
  });
});

describe('memory estimate (src/train/memory.ts)', () => {
  it('grows linearly in the batch and passes every shipped experiment on 1 GB', async () => {
    const { estimateBytes, memoryProblem } = await import('../src/train/memory.js');
    const base = resolveConfig({ data: 'experiments/teacher-small.json', train: { batch: 32 } });
    const at = (batch: number) => estimateBytes({ ...base, train: { ...base.train, batch } }).bytes;
    // Linear in the batch: the difference of two batch sizes is the same per image.
    expect(at(96) - at(64)).toBeCloseTo(at(64) - at(32), 0);
    expect(at(64)).toBeGreaterThan(at(32));
    for (const f of ['smoke', 'layerwise-teacher', 'layerwise-emoji', 'layerwise-fashion', 'end-to-end-emoji']) {
      const c = await loadConfigFile(`experiments/${f}.json`);
      expect(memoryProblem(c, 2 ** 30), f).toBeNull();
    }
    expect(memoryProblem(base, 1000)).toMatch(/needs about 0\.\d+ GB .* and this machine has 0\.00 GB/);
  });
});
