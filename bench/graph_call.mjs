// What one compiled-graph call costs around its kernels: AdamW's gradient-norm graph (a square and a sum
// per input) over n inputs of a given size, timed from JavaScript. The difference between sizes 4 and
// larger is the kernels; what remains at size 4 is the call itself, per call and per input tensor.
// docs/performance.md, "Issue 19: second pass".
//   node bench/graph_call.mjs      (build first: pnpm build)
import { AdamW, ensureBackend, optimizerConfigSchema, tf } from '../packages/core/dist/index.js';

ensureBackend();
for (const [n, size] of [[1, 4], [30, 4], [90, 4], [1, 131072], [30, 4096]]) {
  const params = new Map(Array.from({ length: n }, (_, i) => [`p${i}`, tf.variable(tf.randomNormal([size]))]));
  const opt = new AdamW(params, optimizerConfigSchema.parse({}));
  const grads = Object.fromEntries([...params.keys()].map((k) => [k, tf.randomNormal([size])]));
  for (let i = 0; i < 20; i++) tf.dispose(opt.gradNorm(grads));
  const calls = 500;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) tf.dispose(opt.gradNorm(grads));
  console.log(`${String(n).padStart(3)} inputs of ${String(size).padStart(6)} floats: ${(((performance.now() - t0) / calls) * 1000).toFixed(0)} µs per call`);
  opt.dispose();
  tf.dispose([...params.values(), ...Object.values(grads)]);
}
