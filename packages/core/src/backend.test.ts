import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { transpiledCore } from './__fixtures__/child-process.js';
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
    expect(text).toContain(`fused kernels     ${r.fusedOps.active ? 'on' : 'off'}: ${r.fusedOps.reason}`);
  });

  it.skipIf(process.env.REGIME_ZOO_BACKEND === 'cpu')("should keep TensorFlow's C++ info lines off stderr by default, and show them when the user sets TF_CPP_MIN_LOG_LEVEL=0", async () => {
    const core = await transpiledCore();
    try {
      const script = `import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from './backend.js';
ensureBackend();
console.log(tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()[0]);
`;
      const env = { ...process.env };
      delete env.TF_CPP_MIN_LOG_LEVEL;
      // TensorFlow's info lines ("I0000 00:00:... file.cc:N] ..."), except oneDNN's notice from port.cc,
      // which TensorFlow ≥ 2.16 logs while the library loads, before it reads TF_CPP_MIN_LOG_LEVEL.
      const info = (stderr: string) => stderr.split('\n').filter((l) => /^I\d{4} /.test(l) && !/ port\.cc:\d+\]/.test(l));
      const quiet = await core.run(script, env);
      expect(quiet.code, quiet.stderr).toBe(0);
      expect(quiet.stdout.trim()).toBe('64');
      expect(info(quiet.stderr)).toEqual([]);
      const loud = await core.run(script, { ...env, TF_CPP_MIN_LOG_LEVEL: '0' });
      expect(loud.code, loud.stderr).toBe(0);
      expect(info(loud.stderr).length).toBeGreaterThan(0); // e.g. cpu_feature_guard.cc's instruction-set line
    } finally {
      core.dispose();
    }
  });
});
