import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBackend } from './backend.js';
import { graphStats } from './graph-run.js';
import { MAX_UNUSED_SHAPES, modelGraphStats } from './model-graph-pool.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';
import { Trainer } from './train.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('compiled graphs are freed when no model needs them', () => {
  const saved = process.env.REGIME_ZOO_GRAPH_DIR;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-mem-'));
  beforeAll(() => {
    process.env.REGIME_ZOO_GRAPH_DIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.REGIME_ZOO_GRAPH_DIR;
    else process.env.REGIME_ZOO_GRAPH_DIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('should create and dispose 200 models of 200 shapes with flat native memory', () => {
    ensureBackend();
    const tensors = tf.memory().numTensors;
    // Each model: a forward pass (inference graph); every 10th also decodes with a KV cache (a KV program
    // session), every 25th takes a training step (train, backward and AdamW graphs).
    const use = (i: number) => {
      const m = Transformer.create({ vocabSize: 16 + i, contextLength: 8, dModel: i % 2 ? 32 : 16, nHeads: 2, nLayers: 1 + (i % 3 === 0 ? 1 : 0), seed: i });
      tf.tidy(() => m.forward([[1, 2, 3, 4]]).logits.dataSync());
      if (i % 10 === 0) {
        const kv = m.newKVCache(2);
        tf.dispose(m.decode([[1, 2], [3, 4]], kv).logits);
        tf.dispose(m.decode([[5], [6]], kv).logits);
        m.disposeKVCache(kv);
      }
      if (i % 25 === 0) {
        const t = new Trainer(m, { totalSteps: 1 });
        t.trainStep(() => {
          const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
          return { loss: tf.neg(tf.mean(tokenLogProbs(m.forward(ids).logits, ids))) as tf.Scalar };
        });
        t.dispose();
      }
      m.dispose();
    };
    const measure = () => {
      gc();
      return { rss: process.memoryUsage().rss, ...graphStats(), ...modelGraphStats() };
    };
    const samples: ReturnType<typeof measure>[] = [];
    for (let i = 0; i < 200; i++) {
      use(i);
      if ((i + 1) % 20 === 0) samples.push(measure());
    }
    const mb = samples.map((s) => s.rss / 2 ** 20);
    // Least-squares slope of RSS over models 40..200 (the first 20 are warm-up: kernels, allocator pools).
    const ys = mb.slice(1);
    const xs = ys.map((_, k) => 20 * k);
    const mx = xs.reduce((a, x) => a + x, 0) / xs.length;
    const my = ys.reduce((a, y) => a + y, 0) / ys.length;
    const slope = xs.reduce((a, x, k) => a + (x - mx) * (ys[k]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    console.log(`RSS MB every 20 models: ${mb.map((x) => x.toFixed(1)).join(' ')}; slope ${slope.toFixed(3)} MB/model`);
    // Measured (2 cores, shared by other jobs): slope 0.05-0.24 MB/model, RSS within ±20 MB; without
    // freeing (every shape kept) 2.0 MB/model.
    expect(slope).toBeLessThan(0.5);
    expect(Math.max(...ys) - ys[0]!).toBeLessThan(60);
    // Exactly: the same graphs and sessions after every 20 models (the last MAX_UNUSED_SHAPES shapes' graphs).
    for (const s of samples) expect([s.graphs, s.sessions, s.shapes, s.unused]).toEqual([samples[0]!.graphs, samples[0]!.sessions, MAX_UNUSED_SHAPES, MAX_UNUSED_SHAPES]);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
