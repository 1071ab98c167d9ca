/**
 * Numerical tests run on both the wasm backend (what runs here) and tfjs's cpu backend (the reference
 * implementation of every kernel). `describeEachBackend` makes one describe block per backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe } from 'vitest';
import { initBackend } from '../../src/backend/index.js';

export const TEST_BACKENDS = ['cpu', 'wasm'] as const;

export function describeEachBackend(title: string, body: (backend: (typeof TEST_BACKENDS)[number]) => void): void {
  for (const backend of TEST_BACKENDS) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await initBackend(backend);
        if (tf.getBackend() !== backend) throw new Error(`expected backend ${backend}, got ${tf.getBackend()}`);
      });
      body(backend);
    });
  }
}
