import { tf, ensureBackend } from '@regime-zoo/core';
import { GraphBuilder, compileGraph } from '../../packages/core/src/graph.js';
ensureBackend();
const time = (label: string, f: () => void, n = 30) => { f(); f(); const t0 = performance.now(); for (let i = 0; i < n; i++) f(); return (performance.now() - t0) / n; };
const s = tf.randomNormal([128,64,64]);
const REP = 20;
const results: Record<string, string> = {};
for (const op of ['Exp', 'Sigmoid', 'Tanh', 'Softmax', 'Square', 'Neg', 'Mul', 'AddV2', 'Identity']) {
  const g = new GraphBuilder();
  const x = g.placeholder('x', 'float32', [128, 64, 64]);
  let h = x;
  for (let i = 0; i < REP; i++) {
    if (op === 'Mul' || op === 'AddV2') h = g.raw(op, [h, x], { T: { type: 'float32' } }, 'float32')[0]!;
    else h = g.raw(op, [h], { T: { type: 'float32' } }, 'float32')[0]!;
  }
  const cg = compileGraph(g, [g.sum(h, [0, 1, 2])]);
  const t = time(op, () => tf.tidy(() => { cg.run([s])[0]!.dataSync(); }));
  results[op] = (t / REP * 1000).toFixed(0) + ' µs/op';
}
console.log(results);
