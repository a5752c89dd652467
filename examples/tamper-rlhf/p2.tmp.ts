import { Transformer, tf } from '@regime-zoo/core';
import { setGraphMode } from '../../packages/core/src/graph.js';
const cfgs: any = { S: { dModel: 64, nLayers: 2, nHeads: 4 }, M: { dModel: 128, nLayers: 4, nHeads: 4 }, L: { dModel: 256, nLayers: 6, nHeads: 8 } };
const which = process.argv[2] ?? 'S';
const m = Transformer.create({ vocabSize: 64, contextLength: 64, ...cfgs[which] });
const ids = tf.randomUniform([32, 64], 0, 64, 'int32') as tf.Tensor2D;
const time = (label: string, f: () => void, n = 10) => { f(); const t0 = performance.now(); for (let i = 0; i < n; i++) f(); console.log(label, ((performance.now() - t0) / n).toFixed(2), 'ms'); };
for (let r = 0; r < 2; r++) {
setGraphMode(false);
time('eager forward', () => tf.tidy(() => { m.forward(ids).logits.dataSync(); }));
setGraphMode(undefined);
time('graph forward', () => tf.tidy(() => { m.forward(ids).logits.dataSync(); }));
}
const a = tf.randomNormal([32,4,64,16]), b = tf.randomNormal([32,4,64,16]);
time('bmm eager', () => tf.tidy(() => { tf.matMul(a, b, false, true).dataSync(); }));
const x = tf.randomNormal([2048, 64]), w = tf.randomNormal([64, 192]);
time('mm eager', () => tf.tidy(() => { tf.matMul(x, w).dataSync(); }));
const s = tf.randomNormal([32,4,64,64]);
time('softmax eager', () => tf.tidy(() => { tf.softmax(s).dataSync(); }));
