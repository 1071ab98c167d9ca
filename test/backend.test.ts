import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, describeChoice } from '../src/backend/index.js';
import { UserError } from '../src/util/errors.js';

describe('backend selection', () => {
  it('auto falls through the missing native backends to wasm and says why', async () => {
    const c = await initBackend('auto');
    expect(c.backend).toBe('wasm');
    expect(c.skipped.map((s) => s.name)).toEqual(['node-gpu', 'node']);
    expect(describeChoice(c)).toMatch(/tfjs-node-gpu is not installed/);
  });

  it('an explicitly requested missing backend is a UserError with an install hint', async () => {
    await expect(initBackend('node-gpu')).rejects.toThrow(UserError);
    await expect(initBackend('node-gpu')).rejects.toThrow(/npm install @tensorflow\/tfjs-node-gpu/);
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend('metal')).rejects.toThrow(/Unknown backend 'metal'/);
  });

  it('cpu and wasm can be selected explicitly', async () => {
    expect((await initBackend('cpu')).backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await initBackend('wasm')).backend).toBe('wasm');
  });
});
