import { Transformer, tf } from '@regime-zoo/core';
import { modelGraphs } from '../../packages/core/src/model-graph.js';
import { modelGraphs as oldGraphs } from '../../packages/core/src/mgold.tmp.js';
const cfgs: any = { S: { dModel: 64, nLayers: 2, nHeads: 4 }, M: { dModel: 128, nLayers: 4, nHeads: 4 }, L: { dModel: 256, nLayers: 6, nHeads: 8 } };
const which = process.argv[2] ?? 'S';
const m = Transformer.create({ vocabSize: 64, contextLength: 64, ...cfgs[which] });
const ids = tf.randomUniform([32, 64], 0, 64, 'int32') as tf.Tensor2D;
const mask = (m as any).mask;
const vars = m.variables();
const med = (f: () => void, n = 15) => { f(); f(); const ts: number[] = []; for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[n >> 1]!; };
const res: Record<string, number[]> = {};
for (let round = 0; round < 3; round++) {
  for (const [name, G] of [['new', modelGraphs(m.config)], ['old', oldGraphs(m.config)]] as const) {
    const [out, ...acts] = G.train.run([ids, mask, ...vars]);
    const dy = tf.randomNormal(out!.shape);
    const f = med(() => tf.tidy(() => { const r = G.train.run([ids, mask, ...vars]); r[0]!.dataSync(); }));
    const b = med(() => tf.tidy(() => { const r = G.backward.run([ids, dy, ...vars, ...acts]); r[0]!.dataSync(); }));
    (res[name + ' fwd'] ??= []).push(+f.toFixed(1)); (res[name + ' bwd'] ??= []).push(+b.toFixed(1));
    tf.dispose([out!, ...acts, dy]);
  }
}
console.log(which, JSON.stringify(res));
