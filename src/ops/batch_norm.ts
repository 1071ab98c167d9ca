/**
 * Training-mode batch normalisation over every axis but the last (biased variance), with batch
 * statistics in the gradient. Written with elementwise ops and JS column sums: faster on wasm than
 * tfjs's fused kernel, whose gradient adds a slow Tile (docs/engine.md).
 */
import * as tf from '@tensorflow/tfjs';
import { channelMoments, colSum2 } from './colsum.js';
import { runOp, type OpDef } from './registry.js';
import { asTensor, type KernelArgs } from './tensor_info.js';

interface BnAttrs {
  eps: number;
}

export const BATCH_NORM: OpDef = {
  name: 'FsrganBatchNorm',
  kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
    const { eps } = attrs as unknown as BnAttrs;
    return tf.tidy(() => {
      const x = asTensor(inputs.x, backend);
      const { mean, variance } = channelMoments(x);
      const scale = tf.mul(tf.rsqrt(tf.add(variance, eps)), asTensor(inputs.gamma, backend));
      const shift = tf.sub(asTensor(inputs.beta, backend), tf.mul(mean, scale));
      return tf.add(tf.mul(x, scale), shift);
    });
  }) as unknown as tf.KernelFunc,
  gradient: {
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const { eps } = attrs as unknown as BnAttrs;
      const [x, gamma] = saved;
      const g = dy as tf.Tensor;
      const rows = x.size / x.shape[x.rank - 1];
      const { mean, variance } = channelMoments(x);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.add(tf.mul(x, rstd), tf.neg(tf.mul(mean, rstd)));
      const [dbeta, dgamma] = colSum2(g, xhat);
      return {
        // dx = gamma rstd (dy - dbeta/M - xhat dgamma/M), the batch-statistics gradient.
        x: () => {
          const k = tf.mul(gamma, rstd);
          return tf.add(tf.add(tf.mul(g, k), tf.mul(xhat, tf.mul(k, tf.div(dgamma, -rows)))), tf.mul(k, tf.div(dbeta, -rows)));
        },
        gamma: () => dgamma,
        beta: () => dbeta,
      };
    },
  },
};

/** Training-mode batch normalisation of x [..., C] with scale gamma [C] and shift beta [C]. */
export function batchNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): T {
  const c = x.shape[x.rank - 1];
  if (gamma.shape[0] !== c || beta.shape[0] !== c) throw new Error(`batchNorm: gamma [${gamma.shape}] and beta [${beta.shape}] must have the ${c} channels of x [${x.shape}]`);
  return runOp<T>(BATCH_NORM, { x, gamma, beta }, { eps });
}
