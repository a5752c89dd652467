import { Transformer, tf } from '@regime-zoo/core';
const cfgs: any = { S: { dModel: 64, nLayers: 2, nHeads: 4 }, M: { dModel: 128, nLayers: 4, nHeads: 4 }, L: { dModel: 256, nLayers: 6, nHeads: 8 } };
const which = process.argv[2] ?? 'S';
const m = Transformer.create({ vocabSize: 64, contextLength: 64, ...cfgs[which] });
const prompt = Array.from({ length: 32 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i + j) % 64));
for (let rep = 0; rep < 3; rep++) {
  const kv = m.newKVCache(32);
  tf.tidy(() => { m.decode(prompt, kv).logits.dataSync(); });
  const t0 = performance.now();
  const per: number[] = [];
  for (let s = 0; s < 48; s++) { const t1 = performance.now(); tf.tidy(() => { const l = m.decode(prompt.map((r) => [r[s % 8]!]), kv).logits; tf.slice(l, [0, 0, 0], [32, 1, 64]).dataSync(); }); per.push(performance.now() - t1); }
  const tk = performance.now() - t0;
  m.disposeKVCache(kv);
  const t2 = performance.now();
  for (let s = 0; s < 48; s++) { const rows = prompt.map((r) => [...r, ...Array.from({ length: s }, () => 5)]); tf.tidy(() => { const l = m.forward(rows).logits; tf.slice(l, [0, 0, 0], [32, 1, 64]).dataSync(); }); }
  const tn = performance.now() - t2;
  console.log(which, 'decode ms/step', (tk / 48).toFixed(2), 'first/last', per[0]!.toFixed(2), per[47]!.toFixed(2), 'full ms/step', (tn / 48).toFixed(2), 'ratio', (tn / tk).toFixed(2), tf.memory().numTensors);
}
