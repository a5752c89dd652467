import { Transformer, tf } from '@regime-zoo/core';
import { modelGraphs } from '../../packages/core/src/model-graph.js';
import { GraphBuilder, compileGraph } from '../../packages/core/src/graph.js';
const m = Transformer.create({ vocabSize: 64, contextLength: 64, dModel: 64, nLayers: 2, nHeads: 4 });
const G = modelGraphs(m.config);
const mask = (m as any).mask; const vars = m.variables();
const med = (f: () => void, n = 30) => { f(); f(); const ts: number[] = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[n >> 1]!.toFixed(3); };
const ids = tf.zeros([32, 1], 'int32'); const start = tf.scalar(20, 'int32');
const past = Array.from({ length: 4 }, () => tf.randomNormal([32, 4, 20, 16]));
console.log('decode run fixed shape', med(() => tf.tidy(() => { G.decode.run([ids, mask, start, ...vars, ...past])[0]!.dataSync(); })));
console.log('infer run [32,1]', med(() => tf.tidy(() => { G.infer.run([ids, mask, tf.scalar(0, 'int32'), ...vars])[0]!.dataSync(); })));
// trivial graph with same inputs
const g = new GraphBuilder(); const xs = [g.placeholder('a', 'int32'), ...vars.map((v, i) => g.placeholder('p' + i, 'float32'))];
const cg = compileGraph(g, [g.identity(xs[1]!)]);
console.log('identity graph, 27 inputs', med(() => tf.tidy(() => { cg.run([ids, ...vars])[0]!.dataSync(); })));
const g2 = new GraphBuilder(); const x2 = g2.placeholder('a', 'float32');
const cg2 = compileGraph(g2, [g2.identity(x2)]);
console.log('identity graph, 1 input', med(() => tf.tidy(() => { cg2.run([vars[1]!])[0]!.dataSync(); })));
console.log('eager add', med(() => tf.tidy(() => { tf.add(vars[1]!, 1).dataSync(); })));
