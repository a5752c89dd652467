import { expectNoTensorLeak, fixtureTokens, maxAbsDiff, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ZooError } from './errors.js';
import { setGraphMode } from './graph-run.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';
import { learningRate, optimizerConfigSchema, Trainer } from './train.js';

const data = fixtureTokens(8, 10, 4);
const nll = (m: Transformer, rows: number[][]) => {
  const ids = tf.tensor2d(rows, undefined, 'int32');
  return tf.neg(tf.mean(tokenLogProbs(m.forward(ids).logits, ids))) as tf.Scalar;
};

describe('Trainer', () => {
  it('should warm up linearly and decay by cosine to lr·minLrRatio', () => {
    const c = optimizerConfigSchema.parse({ lr: 1, warmupSteps: 4, minLrRatio: 0.1 });
    expect(learningRate(c, 0, 14)).toBeCloseTo(0.25);
    expect(learningRate(c, 3, 14)).toBeCloseTo(1);
    expect(learningRate(c, 9, 14)).toBeCloseTo(0.55); // halfway through the decay
    expect(learningRate(c, 14, 14)).toBeCloseTo(0.1);
  });

  it('should give the same update from two micro-batches as from one batch of both', async () => {
    const a = Transformer.create(tinyConfig);
    const b = Transformer.create(tinyConfig);
    const ta = new Trainer(a, { totalSteps: 1, optimizer: { clipNorm: 0 } });
    const tb = new Trainer(b, { totalSteps: 1, microBatches: 2, optimizer: { clipNorm: 0 } });
    ta.trainStep(() => ({ loss: nll(a, data) }));
    tb.trainStep((i) => ({ loss: nll(b, data.slice(i * 4, i * 4 + 4)) }));
    for (const [n, v] of a.params) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, b.params.get(n)!))).dataSync()[0]!);
      expect(diff, n).toBeLessThan(1e-6);
    }
    [ta, tb, a, b].forEach((x) => x.dispose());
  });

  it('should clip the global gradient norm to clipNorm', () => {
    const m = Transformer.create(tinyConfig);
    const t = new Trainer(m, { totalSteps: 2, optimizer: { clipNorm: 1e-3, lr: 1 } });
    const before = m.params.get('unembed.b_U')!.dataSync().slice();
    const info = t.trainStep(() => ({ loss: nll(m, data) }));
    expect(info.gradNorm).toBeGreaterThan(1e-3); // reported norm is before clipping
    // With Adam the first step moves each weight by about lr regardless of scale; check the moment instead.
    const mNorm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(t.optimizer.stateTensors().m!))).dataSync()[0]!);
    expect(mNorm).toBeCloseTo(0.1 * 1e-3, 6); // (1 − β1) · clipped gradient norm
    expect(m.params.get('unembed.b_U')!.dataSync()).not.toEqual(before);
    t.dispose();
    m.dispose();
  });

  it('should refuse a NaN loss with NON_FINITE and the step number, leaving the weights unchanged', () => {
    const m = Transformer.create(tinyConfig);
    const t = new Trainer(m, { totalSteps: 5 });
    t.trainStep(() => ({ loss: nll(m, data) }));
    const before = m.params.get('embed.W_E')!.dataSync().slice();
    let err: unknown;
    try {
      t.trainStep(() => ({ loss: tf.mul(nll(m, data), NaN) as tf.Scalar }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ZooError);
    expect((err as ZooError).code).toBe('NON_FINITE');
    expect((err as ZooError).step).toBe(1);
    expect((err as ZooError).message).toContain('step 1: loss is NaN');
    expect(m.params.get('embed.W_E')!.dataSync()).toEqual(before);
    t.dispose();
    m.dispose();
  });

  it('should stop with ABORTED once the signal fires', () => {
    const m = Transformer.create(tinyConfig);
    const ac = new AbortController();
    const t = new Trainer(m, { totalSteps: 5, signal: ac.signal });
    t.trainStep(() => ({ loss: nll(m, data) }));
    ac.abort();
    expect(() => t.trainStep(() => ({ loss: nll(m, data) }))).toThrow(expect.objectContaining({ code: 'ABORTED', step: 1 }));
    t.dispose();
    m.dispose();
  });

  it('should leave no tensors behind when a trainer is made and disposed', async () => {
    const m = Transformer.create(tinyConfig);
    await expectNoTensorLeak(() => new Trainer(m, { totalSteps: 1 }).dispose(), 'Trainer');
    m.dispose();
  });

  it('should not grow tf.memory().numTensors over 100 training steps', async () => {
    const m = Transformer.create(tinyConfig);
    const t = new Trainer(m, { totalSteps: 200 });
    const step = () => t.trainStep(() => ({ loss: nll(m, data.slice(0, 2)), metrics: { 'objective/entropy': tf.scalar(1) } }));
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    await expectNoTensorLeak(step, 'trainStep');
    t.dispose();
    m.dispose();
  });

  it('should train to the same weights and moments with compiled graphs and with eager ops (≤ 2e-6 after 4 steps)', () => {
    const run = (graph: boolean) => {
      setGraphMode(graph ? undefined : false);
      try {
        const m = Transformer.create({ ...tinyConfig, tiedEmbeddings: true });
        // clipNorm 0.05 clips every step; weight decay and warm-up are on; one parameter gets no gradient.
        const t = new Trainer(m, { totalSteps: 4, optimizer: { lr: 1e-2, clipNorm: 0.05, weightDecay: 0.1, warmupSteps: 2 }, microBatches: 2 });
        for (let i = 0; i < 4; i++) t.trainStep((k) => ({ loss: nll(m, k === 0 ? data : data.slice(2)) }));
        const weights = m.variables().flatMap((v) => Array.from(v.dataSync()));
        const state = t.optimizer.stateTensors();
        const moments = [...state.m!.dataSync(), ...state.v!.dataSync()];
        tf.dispose(Object.values(state));
        t.dispose();
        m.dispose();
        return { weights, moments };
      } finally {
        setGraphMode(undefined);
      }
    };
    const g = run(true);
    const e = run(false);
    expect(maxAbsDiff(g.weights, e.weights)).toBeLessThan(2e-6);
    expect(maxAbsDiff(g.moments, e.moments)).toBeLessThan(2e-6);
    expect(maxAbsDiff(g.moments, new Array(g.moments.length).fill(0))).toBeGreaterThan(1e-4);
  });
});
