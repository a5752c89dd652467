// The training step `zoo bench` times, for the diagnostic scripts beside this file: a bench config's model
// and trainer, and the loss on one fixed batch of random tokens (mean next-token NLL).
import { BENCH_CONFIGS, BENCH_SHAPE } from '../packages/bench/dist/index.js';
import { ensureBackend, Rng, tf, tokenLogProbs, Trainer, Transformer } from '../packages/core/dist/index.js';

/** `name` is S, M or L; the trainer runs `totalSteps` steps with `warmupSteps` of learning-rate warm-up. */
export function benchStep(name, totalSteps, warmupSteps = 3) {
  if (!(name in BENCH_CONFIGS)) throw new Error(`unknown bench config ${name}: use S, M or L`);
  ensureBackend();
  const { vocabSize, contextLength, batch, mlpRatio } = BENCH_SHAPE;
  const model = Transformer.create({ vocabSize, contextLength, mlpRatio, ...BENCH_CONFIGS[name], seed: 0 });
  const trainer = new Trainer(model, { totalSteps, optimizer: { lr: 3e-4, warmupSteps, weightDecay: 0.01 } });
  const rng = new Rng(0);
  const tokens = tf.tensor2d(Int32Array.from({ length: batch * contextLength }, () => rng.int(vocabSize)), [batch, contextLength], 'int32');
  const loss = () => ({ loss: tf.neg(tf.mean(tokenLogProbs(model.forward(tokens).logits, tokens))) });
  return { model, trainer, loss };
}
