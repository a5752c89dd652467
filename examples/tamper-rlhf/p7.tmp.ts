import { tf, ensureBackend } from '@regime-zoo/core';
import { GraphBuilder, compileGraph } from '../../packages/core/src/graph.js';
ensureBackend();
const med = (f: () => void, n = 15) => { f(); f(); const ts: number[] = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[n >> 1]!; };
const REP = 20;
function bench(label: string, shapes: number[][], build: (g: GraphBuilder, xs: any[]) => any, flops: number) {
  const g = new GraphBuilder();
  const xs = shapes.map((s, i) => g.placeholder('x' + i, 'float32', s));
  const outs = [];
  for (let r = 0; r < REP; r++) outs.push(g.sum(build(g, xs.map((x, i) => i === 0 ? g.add(x, r) : x)), [0]));
  const cg = compileGraph(g, [g.addN(outs)]);
  const ins = shapes.map((s) => tf.randomNormal(s));
  const t = med(() => tf.tidy(() => { cg.run(ins)[0]!.dataSync(); }));
  console.log(label.padEnd(28), (t / REP * 1000).toFixed(0).padStart(6), 'µs', (flops / (t / REP) / 1e6).toFixed(1), 'GFLOP/s');
}
bench('add only [2048,64]', [[2048, 64]], (g, [x]) => x, 0);
bench('mm 2048x64 @ 64x192', [[2048, 64], [64, 192]], (g, [x, w]) => g.matMul(x, w), 2 * 2048 * 64 * 192);
bench('mm 2048x64 @ 64x64', [[2048, 64], [64, 64]], (g, [x, w]) => g.matMul(x, w), 2 * 2048 * 64 * 64);
bench('mm 2048x64 @ 64x256', [[2048, 64], [64, 256]], (g, [x, w]) => g.matMul(x, w), 2 * 2048 * 64 * 256);
bench('mm 2048x256 @ 256x64', [[2048, 256], [256, 64]], (g, [x, w]) => g.matMul(x, w), 2 * 2048 * 64 * 256);
bench('mm dW 64x2048 @ 2048x256', [[2048, 64], [2048, 256]], (g, [x, w]) => g.matMul(x, w, true, false), 2 * 2048 * 64 * 256);
bench('mm dX 2048x256 @ (64x256)^T', [[2048, 256], [64, 256]], (g, [x, w]) => g.matMul(x, w, false, true), 2 * 2048 * 64 * 256);
bench('bmm qk^T 128x64x16', [[128, 64, 16], [128, 64, 16]], (g, [q, k]) => g.matMul(q, k, false, true, 3), 2 * 128 * 64 * 64 * 16);
bench('bmm pv 128x64x64 @ 64x16', [[128, 64, 64], [128, 64, 16]], (g, [p, v]) => g.matMul(p, v, false, false, 3), 2 * 128 * 64 * 64 * 16);
bench('bmm p^T dz', [[128, 64, 64], [128, 64, 16]], (g, [p, v]) => g.matMul(p, v, true, false, 3), 2 * 128 * 64 * 64 * 16);
bench('softmax [128,64,64]', [[128, 64, 64]], (g, [s]) => g.softmax(s), 0);
bench('tanh [2048,256]', [[2048, 256]], (g, [s]) => g.tanh(s), 0);
bench('mul [2048,256]', [[2048, 256]], (g, [s]) => g.mul(s, s), 0);
bench('transpose [32,64,3,4,16]', [[32, 64, 3, 4, 16]], (g, [s]) => g.transpose(s, [2, 0, 3, 1, 4]), 0);
