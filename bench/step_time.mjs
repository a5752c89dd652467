// Median ms per training step of a bench config (S, M or L), the step `zoo bench` times, in a loop with
// nothing else around it: for trying TensorFlow settings (TF_XLA_FLAGS, TF_NUM_INTRAOP_THREADS, ...) and
// for ONEDNN_VERBOSE=1 breakdowns (see onednn_summary.py). With `split`, also the mean time of each
// compiled-graph call (forward, backward, gradient norm, AdamW) and of everything outside them.
// docs/performance.md, "Where the time goes now".
//   node bench/step_time.mjs L 20 [split]      (build first: pnpm build)
import { BENCH_CONFIGS } from '../packages/bench/dist/index.js';
import { ensureBackend, tf } from '../packages/core/dist/index.js';
import { benchStep } from './setup.mjs';

const name = process.argv[2] ?? 'S';
const steps = Number(process.argv[3] ?? 20);
const split = process.argv[4] === 'split';
if (!(name in BENCH_CONFIGS) || !(steps >= 1)) throw new Error('usage: node bench/step_time.mjs S|M|L [steps ≥ 1]');
ensureBackend();
// Graph calls, timed from JavaScript: key = the graph's session id with its input and output counts.
const graphMs = new Map();
let timing = false;
if (split) {
  const backend = tf.backend();
  const run = backend.runSavedModel.bind(backend);
  backend.runSavedModel = (id, inputs, infos, outputs) => {
    const t0 = performance.now();
    const out = run(id, inputs, infos, outputs);
    const key = `graph ${id} (${inputs.length} inputs, ${outputs.length} outputs)`;
    if (timing) graphMs.set(key, (graphMs.get(key) ?? 0) + performance.now() - t0);
    return out;
  };
}
const { trainer, loss } = benchStep(name, steps + 4);
for (let i = 0; i < 3; i++) trainer.trainStep(loss);
const times = [];
timing = true;
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  trainer.trainStep(loss);
  times.push(performance.now() - t0);
}
const mean = times.reduce((a, b) => a + b, 0) / steps;
times.sort((a, b) => a - b);
console.log(`${name}: ${times[steps >> 1].toFixed(1)} ms/step (median of ${steps}), mean ${mean.toFixed(1)}`);
if (split) {
  let inGraphs = 0;
  for (const [key, ms] of graphMs) {
    console.log(`  ${key}: ${(ms / steps).toFixed(2)} ms`);
    inGraphs += ms / steps;
  }
  console.log(`  outside the graphs (eager loss, tfjs, JavaScript): ${(mean - inGraphs).toFixed(2)} ms`);
}
