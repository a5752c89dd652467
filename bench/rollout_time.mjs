// One bench rollout (32 episodes × 48 sampled tokens after an 8-token prompt, KV cache) of config S, M or
// L, timed from JavaScript: ms per rollout, and how much of it the compiled-graph calls take (the rest is
// sampling, the environment and tfjs). docs/performance.md, "Issue 19: second pass".
//   node bench/rollout_time.mjs S [rollouts]      (build first: pnpm build)
import { BENCH_CONFIGS, BENCH_SHAPE, benchEnvironment } from '../packages/bench/dist/index.js';
import { ensureBackend, Rng, rollout, tf, Transformer } from '../packages/core/dist/index.js';

const name = process.argv[2] ?? 'S';
const count = Number(process.argv[3] ?? 20);
if (!(name in BENCH_CONFIGS) || !(count >= 1)) throw new Error('usage: node bench/rollout_time.mjs S|M|L [rollouts ≥ 1]');
ensureBackend();
const { vocabSize, contextLength, mlpRatio } = BENCH_SHAPE;
const model = Transformer.create({ vocabSize, contextLength, mlpRatio, ...BENCH_CONFIGS[name], seed: 0 });
const env = benchEnvironment({ vocabSize, promptLength: 8, generateTokens: 48 });
const backend = tf.backend();
const run = backend.runSavedModel.bind(backend);
let graphMs = 0;
let calls = 0;
backend.runSavedModel = (...args) => {
  const t0 = performance.now();
  const out = run(...args);
  graphMs += performance.now() - t0;
  calls += 1;
  return out;
};
const once = (seed) => rollout(model, env, { episodes: 32, rng: new Rng(seed), kvCache: true, maxLength: 56 });
for (let i = 0; i < 3; i++) once(1);
graphMs = 0;
calls = 0;
const t0 = performance.now();
for (let i = 0; i < count; i++) once(i);
const ms = (performance.now() - t0) / count;
console.log(`${name}: ${ms.toFixed(1)} ms per rollout (${((32 * 48) / ms * 1000).toFixed(0)} tokens/s); ${(calls / count).toFixed(0)} graph calls taking ${(graphMs / count).toFixed(1)} ms`);
