// Resident memory around each compiled-graph call of a training step of a bench config (S, M or L): RSS
// and its high-water mark after every call of steps 0 and 2 (step 1 untraced), and the bytes tfjs holds
// in tensors. Shows which call grows the process and whether memory comes back after the step.
// docs/performance.md, "Issue 19: second pass". Allocator settings go in the environment, e.g.
//   MALLOC_ARENA_MAX=2 node bench/step_memory.mjs L      (build first: pnpm build)
import fs from 'node:fs';
import { BENCH_CONFIGS } from '../packages/bench/dist/index.js';
import { ensureBackend, tf } from '../packages/core/dist/index.js';
import { benchStep } from './setup.mjs';

const name = process.argv[2] ?? 'L';
if (!(name in BENCH_CONFIGS)) throw new Error('usage: node bench/step_memory.mjs S|M|L');
const mib = (key) => (Number(new RegExp(`${key}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024).toFixed(0);
ensureBackend();
const backend = tf.backend();
const run = backend.runSavedModel.bind(backend);
let tracing = false;
backend.runSavedModel = (id, inputs, infos, outputs) => {
  const out = run(id, inputs, infos, outputs);
  if (tracing) console.log(`  graph ${id} (${inputs.length} in, ${outputs.length} out): RSS ${mib('VmRSS')} MiB, high-water ${mib('VmHWM')} MiB, tfjs tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`);
  return out;
};
const { trainer, loss } = benchStep(name, 4, 1);
for (let step = 0; step < 3; step++) {
  tracing = step !== 1;
  console.log(`step ${step}: RSS ${mib('VmRSS')} MiB before`);
  trainer.trainStep(loss);
}
console.log(`after: RSS ${mib('VmRSS')} MiB, tfjs tensors ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`);
