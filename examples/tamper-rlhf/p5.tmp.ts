import { Transformer, tf } from '@regime-zoo/core';
import { modelGraphs } from '../../packages/core/src/model-graph.js';
const cfgs: any = { S: { dModel: 64, nLayers: 2, nHeads: 4 }, M: { dModel: 128, nLayers: 4, nHeads: 4 }, L: { dModel: 256, nLayers: 6, nHeads: 8 } };
const which = process.argv[2] ?? 'S';
const m = Transformer.create({ vocabSize: 64, contextLength: 64, ...cfgs[which] });
const ids = tf.randomUniform([32, 64], 0, 64, 'int32') as tf.Tensor2D;
const G = modelGraphs(m.config);
const mask = (m as any).mask;
const vars = m.variables();
const med = (f: () => void, n = 25) => { f(); f(); const ts: number[] = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[n >> 1]!.toFixed(2); };
const [out, ...acts] = G.train.run([ids, mask, ...vars]);
const dy = tf.randomNormal(out!.shape);
console.log(which, 'train fwd', med(() => tf.tidy(() => { const r = G.train.run([ids, mask, ...vars]); r[0]!.dataSync(); })),
  'backward', med(() => tf.tidy(() => { const r = G.backward.run([ids, dy, ...vars, ...acts]); r[0]!.dataSync(); })));
