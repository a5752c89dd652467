// Microseconds per element-wise op on a [2048, 256] float32 tensor (S's MLP activations) in tfjs-node,
// eager; elementwise_torch.py measures the same in PyTorch. docs/performance.md, "Where the time goes".
//   node bench/elementwise.mjs && python3 bench/elementwise_torch.py
import { ensureBackend, tf } from '../packages/core/dist/index.js';

ensureBackend();
const x = tf.randomNormal([2048, 256]);
const y = tf.randomNormal([2048, 256]);
const ops = { add: () => tf.add(x, y), mul: () => tf.mul(x, y), tanh: () => tf.tanh(x), sigmoid: () => tf.sigmoid(x) };
for (const [name, f] of Object.entries(ops)) {
  for (let i = 0; i < 20; i++) f().dispose();
  const n = 200;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f().dispose();
  const last = f();
  last.dataSync();
  last.dispose();
  console.log(`${name}: ${(((performance.now() - t0) / (n + 1)) * 1000).toFixed(0)} us`);
}
