import { maxAbsDiff, xorshift } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ensureBackend } from './backend.js';
import { GELU_C1, GELU_C2 } from './forward.js';
import { fusedOpsStatus, setFusedOps } from './fused-ops.js';
import { GraphBuilder, type GNode } from './graph.js';
import { compileGraph } from './graph-run.js';
import { AdamW, optimizerConfigSchema } from './train.js';

// Each fused kernel against the TensorFlow ops the graphs use without it, on one graph per comparison.
// [1024, 256] (2^18 values) runs each kernel on both cores, [48, 64] in one thread.
const graphsOn = process.env.REGIME_ZOO_GRAPH !== '0';

function random(shape: number[], seed: number, scale = 2): tf.Tensor {
  const next = xorshift(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => (next() - 0.5) * 2 * scale), shape);
}

/** Runs `build` (placeholders in order of `inputs`) as one graph; returns its outputs as flat arrays. */
function run(inputs: tf.Tensor[], build: (g: GraphBuilder, xs: GNode[]) => GNode[]): Float32Array[] {
  ensureBackend();
  const g = new GraphBuilder();
  const xs = inputs.map((t, i) => g.placeholder(`x${i}`, 'float32', t.shape.map(() => -1)));
  const graph = compileGraph(g, build(g, xs));
  try {
    const out = graph.run(inputs);
    const values = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
    return values;
  } finally {
    graph.release();
  }
}

const fused = (op: string, outputs = 1, attrs = {}) => (g: GraphBuilder, xs: GNode[]) => g.raw(op, xs, attrs, 'float32', outputs);
const diff = (a: Float32Array, b: Float32Array): number => maxAbsDiff(Array.from(a), Array.from(b));
const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe.skipIf(!graphsOn)('fused kernels (native/zoo_ops.cc)', () => {
  it('should be built and loaded on this machine', () => {
    ensureBackend();
    expect(fusedOpsStatus()).toMatchObject({ active: true });
  });

  it.each([[48, 64], [1024, 256]])('GELU and its gradient should match the TensorFlow ops on [%i, %i]', (n, d) => {
    const [u, dy] = [random([n, d], 1, 4), random([n, d], 2)];
    const [y, t] = run([u], fused('ZooGelu', 2));
    const [yRef, tRef] = run([u], (g, [x]) => {
      const th = g.tanh(g.mul(x!, g.add(g.mul(g.square(x!), GELU_C2), GELU_C1)));
      return [g.mul(x!, g.add(g.mul(th, 0.5), 0.5)), th];
    });
    expect(diff(t!, tRef!)).toBeLessThan(1e-6); // measured ≤ 3.6e-7 (this test, both sizes)
    expect(diff(y!, yRef!)).toBeLessThan(2e-6); // ≤ 7.2e-7
    const [du, y2] = run([dy, u, tf.tensor(t!, [n, d])], fused('ZooGeluGrad', 2));
    const [duRef] = run([dy, u, tf.tensor(t!, [n, d])], (g, [gy, x, th]) => {
      const slope = g.mul(g.mul(x!, g.sub(1, g.square(th!))), g.add(g.mul(g.square(x!), 1.5 * GELU_C2), 0.5 * GELU_C1));
      return [g.mul(gy!, g.add(g.add(g.mul(th!, 0.5), 0.5), slope))];
    });
    expect(diff(du!, duRef!)).toBeLessThan(1.5e-6); // ≤ 4.8e-7
    expect(diff(y2!, y!)).toBe(0);
  });

  it.each([[48, 64], [1024, 256]])('LayerNorm and its gradient should match the TensorFlow ops on [%i, %i]', (n, d) => {
    const [x, w, b, dy] = [random([n, d], 3, 3), random([d], 4), random([d], 5), random([n, d], 6)];
    const [y, xhat, rstd] = run([x, w, b], fused('ZooLayerNorm', 3, { eps: { f: 1e-5 } }));
    const [yRef, xhatRef, rstdRef] = run([x, w, b], (g, [v, gw, gb]) => {
      const xc = g.sub(v!, g.mean(v!, [1], true));
      const rs = g.rsqrt(g.add(g.mean(g.square(xc), [1], true), 1e-5));
      const h = g.mul(xc, rs);
      return [g.add(g.mul(h, gw!), gb!), h, rs];
    });
    expect(diff(xhat!, xhatRef!)).toBeLessThan(1.5e-6); // ≤ 4.8e-7
    expect(diff(y!, yRef!)).toBeLessThan(3e-6); // ≤ 9.5e-7
    expect(diff(rstd!, rstdRef!) / maxAbs(rstdRef!)).toBeLessThan(6e-7); // ≤ 1.9e-7
    const args = [dy, tf.tensor(xhat!, [n, d]), tf.tensor(rstd!, [n, 1]), w];
    const [dx, dw, db] = run(args, fused('ZooLayerNormGrad', 3));
    const [dxRef, dwRef, dbRef] = run(args, (g, [gy, h, rs, gw]) => {
      const dxh = g.mul(gy!, gw!);
      const inner = g.sub(g.sub(dxh, g.mean(dxh, [1], true)), g.mul(h!, g.mean(g.mul(dxh, h!), [1], true)));
      return [g.mul(inner, rs!), g.biasAddGrad(g.mul(gy!, h!)), g.biasAddGrad(gy!)];
    });
    expect(diff(dx!, dxRef!)).toBeLessThan(1.5e-6); // ≤ 4.8e-7
    expect(diff(dw!, dwRef!) / maxAbs(dwRef!)).toBeLessThan(1.5e-6); // ≤ 4.7e-7 relative
    expect(diff(db!, dbRef!) / maxAbs(dbRef!)).toBeLessThan(2e-6); // ≤ 6.0e-7 relative
  });

  it.each([[2, 4, 16], [32, 4, 64]])('the masked softmax and its gradient should match the TensorFlow ops on [%i, %i, T, T] with T = %i', (B, H, T) => {
    const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
    const [x, dp] = [random([B, H, T, T], 7, 6), random([B, H, T, T], 8)];
    const [p] = run([x, mask], fused('ZooMaskedSoftmax'));
    const [pRef] = run([x, mask], (g, [s, m]) => [g.softmax(g.add(s!, m!))]);
    expect(diff(p!, pRef!)).toBeLessThan(7e-7); // ≤ 2.4e-7
    // Above the diagonal: exactly 0, as in TensorFlow's softmax of −1e9.
    expect(p!.filter((_, i) => i % T > Math.floor(i / T) % T).every((v) => v === 0)).toBe(true);
    const [ds] = run([dp, tf.tensor(p!, [B, H, T, T])], fused('ZooSoftmaxGrad'));
    const [dsRef] = run([dp, tf.tensor(p!, [B, H, T, T])], (g, [gp, pp]) => [g.mul(pp!, g.sub(gp!, g.sum(g.mul(gp!, pp!), [3], true)))]);
    expect(diff(ds!, dsRef!)).toBeLessThan(1e-6); // ≤ 3.0e-7
  });

  it.each([[48, 64], [1024, 256]])('column sums should match BiasAddGrad on [%i, %i]', (n, d) => {
    const x = random([n, d], 9);
    const [s] = run([x], fused('ZooColumnSums'));
    const [sRef] = run([x], (g, [v]) => [g.biasAddGrad(v!)]);
    expect(diff(s!, sRef!) / maxAbs(sRef!)).toBeLessThan(3e-6); // ≤ 1.0e-6 relative
  });

  it('AdamW should give the TensorFlow ops\' update bit for bit, with and without decay', () => {
    ensureBackend();
    // train.ts's AdamW twice from the same start: once with ZooAdamW, once with its TensorFlow-op graph.
    const shapes: Record<string, number[]> = { 'blocks.0.mlp.W_in': [48, 64], 'blocks.0.mlp.W_out': [1024, 256], 'embed.W_E': [64, 16], 'blocks.0.mlp.b_in': [64] };
    const names = Object.keys(shapes);
    const grads = names.map((n, i) => random(shapes[n]!, 30 + i));
    const update = (fused: boolean): Float32Array[] => {
      setFusedOps(fused ? undefined : false);
      try {
        const params = new Map(names.map((n, i) => [n, tf.variable(random(shapes[n]!, 20 + i, 0.5))] as const));
        const opt = new AdamW(params, optimizerConfigSchema.parse({ lr: 1e-3, weightDecay: 0.01 }));
        for (let step = 0; step < 3; step++) opt.apply(Object.fromEntries(names.map((n, i) => [n, grads[i]!])), 1e-3, 0.37);
        const state = opt.stateTensors();
        const out = [...names.map((n) => params.get(n)!.dataSync() as Float32Array), ...['m', 'v'].map((k) => state[k]!.dataSync() as Float32Array)];
        tf.dispose([...Object.values(state), ...params.values()]);
        opt.dispose();
        return out;
      } finally {
        setFusedOps(undefined);
      }
    };
    const [got, want] = [update(true), update(false)];
    expect(got.map((a, i) => diff(a, want[i]!))).toEqual(Array(names.length + 2).fill(0));
  });

  it('should name the kernel and what it expects when shapes do not fit', () => {
    ensureBackend();
    expect(() => run([random([2, 2, 4, 4], 10), random([3, 4], 11)], fused('ZooMaskedSoftmax'))).toThrow(/ZooMaskedSoftmax: the mask must be \[T, S\] for scores \[\.\.\., T, S\]/);
    expect(() => run([random([4, 8], 12), random([7], 13), random([8], 14)], fused('ZooLayerNorm', 3, { eps: { f: 1e-5 } }))).toThrow(/ZooLayerNorm: w and b must have the size of x's last dimension/);
  });
});
