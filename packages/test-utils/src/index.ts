import * as tf from '@tensorflow/tfjs-core';

/**
 * Checks the tfjs way that `fn` leaks no tensors: one warm-up call (kernels may cache tensors the
 * first time), then `tf.memory().numTensors` before and after a second call must be equal.
 * Returns the second call's result.
 */
export async function expectNoTensorLeak<T>(fn: () => T | Promise<T>, label = 'function'): Promise<T> {
  await fn();
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} leaked ${after - before} tensor(s): ${before} before, ${after} after`);
  }
  return result;
}
