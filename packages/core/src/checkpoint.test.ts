import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expectNoTensorLeak, fixtureTokens, maxAbsDiff, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, restoreTrainer, saveCheckpoint } from './checkpoint.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';
import { Trainer } from './train.js';

const made: string[] = [];
const tmp = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-ckpt-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const data = fixtureTokens(8, 12, 11);

function loss(m: Transformer, step: number, rng: Trainer['rng']): tf.Scalar {
  const rows = [0, 1, 2, 3].map(() => data[rng.int(data.length)]!);
  const ids = tf.tensor2d(rows, undefined, 'int32');
  return tf.neg(tf.mean(tokenLogProbs(m.forward(ids, { training: true, dropoutSeed: step }).logits, ids))) as tf.Scalar;
}

function train(m: Transformer, t: Trainer, until: number) {
  while (t.step < until) {
    const s = t.step;
    t.trainStep(() => ({ loss: loss(m, s, t.rng) }));
  }
}

async function weightsOf(m: Transformer): Promise<Float32Array> {
  const parts = await Promise.all(m.variables().map((v) => v.data() as Promise<Float32Array>));
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

describe('checkpoints', () => {
  it('should reload to identical logits and keep tokenizer and regime metadata', async () => {
    const dir = path.join(tmp(), 'ck');
    const m = Transformer.create({ ...tinyConfig, valueHead: true });
    await saveCheckpoint(dir, { model: m, tokenizer: { tokens: ['a'] }, regime: { name: 'x' } });
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['ck']); // no temporary folders left
    const ck = await loadCheckpoint(dir);
    const rows = fixtureTokens(2, 9);
    const a = tf.tidy(() => m.forward(rows).logits.dataSync());
    const b = tf.tidy(() => ck.model.forward(rows).logits.dataSync());
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(ck.meta.tokenizer).toEqual({ tokens: ['a'] });
    expect(ck.meta.regime).toEqual({ name: 'x' });
    ck.dispose();
    ck.model.dispose();
    m.dispose();
  });

  it('should resume training at step k and end with exactly the weights of an uninterrupted run', async () => {
    const cfg = { ...tinyConfig, dropout: 0.1 };
    const opt = { totalSteps: 12, seed: 5, optimizer: { lr: 3e-3, warmupSteps: 3 } };
    const a = Transformer.create(cfg);
    const ta = new Trainer(a, opt);
    train(a, ta, 12);

    const b = Transformer.create(cfg);
    const tb = new Trainer(b, opt);
    train(b, tb, 5);
    const dir = path.join(tmp(), 'resume');
    await saveCheckpoint(dir, { model: b, trainer: tb });
    tb.dispose();
    b.dispose();

    const ck = await loadCheckpoint(dir);
    const tc = new Trainer(ck.model, opt);
    restoreTrainer(tc, ck);
    expect(tc.step).toBe(5);
    train(ck.model, tc, 12);
    const wa = await weightsOf(a);
    const wc = await weightsOf(ck.model);
    expect(maxAbsDiff(wa, wc)).toBe(0);
    // And a run that did not resume from the same point differs (the test can fail).
    expect(maxAbsDiff(wa, await weightsOf(Transformer.create(cfg)))).toBeGreaterThan(1e-4);
    [ta, tc].forEach((t) => t.dispose());
    [a, ck.model].forEach((m) => m.dispose());
  });

  it('should not leak tensors across a save and load', async () => {
    const dir = path.join(tmp(), 'leak');
    const m = Transformer.create(tinyConfig);
    await expectNoTensorLeak(async () => {
      await saveCheckpoint(dir, { model: m });
      const ck = await loadCheckpoint(dir);
      ck.dispose();
      ck.model.dispose();
    }, 'save/load');
    m.dispose();
  });

  it('should overwrite an existing checkpoint atomically, leaving only the new one', async () => {
    const root = tmp();
    const dir = path.join(root, 'ck');
    const m = Transformer.create(tinyConfig);
    await saveCheckpoint(dir, { model: m, regime: 1 });
    await saveCheckpoint(dir, { model: m, regime: 2 });
    expect(fs.readdirSync(root)).toEqual(['ck']);
    const ck = await loadCheckpoint(dir);
    expect(ck.meta.regime).toBe(2);
    ck.model.dispose();
    m.dispose();
  });
});
