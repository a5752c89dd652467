import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { doctor, ensureBackend, formatDoctorReport } from './backend.js';

describe('backend', () => {
  it('should run on the native tensorflow backend unless the pure-JS one is asked for', () => {
    const info = ensureBackend();
    const expected = process.env.REGIME_ZOO_BACKEND === 'cpu' ? 'cpu' : 'tensorflow';
    expect(info.name).toBe(expected);
    expect(tf.getBackend()).toBe(expected);
  });

  it('should return the same selection on every call', () => {
    expect(ensureBackend()).toBe(ensureBackend());
  });

  it('should compute a matmul correctly on the active backend', () => {
    ensureBackend();
    const out = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync());
    expect(out).toEqual([[19, 22], [43, 50]]);
  });

  it('should report the backend, its reason and a positive matmul rate in the doctor report', () => {
    const r = doctor({ matmulSize: 64 });
    expect(r.matmulGflops).toBeGreaterThan(0);
    const text = formatDoctorReport(r);
    expect(text).toContain(`backend           ${r.backend.name}`);
    expect(text).toContain(r.backend.reason);
    if (r.backend.name === 'tensorflow') expect(r.tensorflowVersion).toMatch(/^\d+\.\d+/);
  });
});
