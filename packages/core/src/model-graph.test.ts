import { expectNoTensorLeak, fixtureTokens, maxAbsDiff, tinyConfig, xorshift } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ensureBackend } from './backend.js';
import { parseModelConfig } from './config.js';
import { GraphBuilder } from './graph.js';
import { fusedOpsAvailable, setFusedOps } from './fused-ops.js';
import { graphAvailable, setGraphMode } from './graph-run.js';
import { buildBackward, buildForward, buildKV, stepPlan } from './model-graph.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';

const models: Transformer[] = [];
const make = (over: Record<string, unknown> = {}) => {
  const m = Transformer.create({ ...tinyConfig, ...over });
  models.push(m);
  return m;
};
afterAll(() => models.forEach((m) => m.dispose()));
afterEach(() => setGraphMode(undefined));

/** Runs `fn` on the eager ops and on the compiled graphs. */
function both<T>(fn: () => T): { eager: T; graph: T } {
  setGraphMode(false);
  const eager = fn();
  setGraphMode(undefined);
  const graph = fn();
  return { eager, graph };
}

// A loss that touches every output: a weighted log-likelihood plus (with a value head) a value term.
function lossOf(m: Transformer, rows: number[][]): tf.Scalar {
  const ids = tf.tensor2d(rows, undefined, 'int32');
  const { logits, values } = m.forward(ids);
  const lp = tokenLogProbs(logits, ids);
  const w = tf.reshape(tf.linspace(0.5, 1.5, lp.size), lp.shape);
  let loss = tf.neg(tf.mean(tf.mul(lp, w)));
  if (values) loss = tf.add(loss, tf.mean(tf.square(tf.sub(values, 0.3))));
  return loss as tf.Scalar;
}

const configs: [string, Record<string, unknown>][] = [
  ['untied, no value head', {}],
  ['tied embeddings + value head', { tiedEmbeddings: true, valueHead: true }],
  ['3 layers, 4 heads, mlpRatio 2', { nLayers: 3, nHeads: 4, mlpRatio: 2 }],
];

describe('compiled model graphs (native backend)', () => {
  it.skipIf(process.env.REGIME_ZOO_GRAPH === '0')('should be in use on the native backend', () => {
    ensureBackend();
    expect(graphAvailable()).toBe(tf.getBackend() === 'tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
  });

  // SHA-256 of every graph's SavedModel bytes, recorded at a22a759 (before forward.ts) and unchanged since:
  // the one forward definition emits the graphs of the two it replaced, byte for byte. A deliberate change
  // to a graph changes these; update them then, and say why in the commit. The backward graphs changed
  // since, on purpose (issue 19): GELU's ½(1 + t) and output are recomputed from the saved u and t, with
  // the forward's own ops (the same bits). With the fused kernels (fused-ops.ts) the graphs are others,
  // recorded when they came (issue 19, third pass); without them, still those above.
  const hashShapes = [
    { vocabSize: 13, contextLength: 8, dModel: 16, nHeads: 2, nLayers: 1 },
    { vocabSize: 21, contextLength: 12, dModel: 24, nHeads: 3, nLayers: 2, tiedEmbeddings: false, valueHead: true },
    { vocabSize: 9, contextLength: 16, dModel: 32, nHeads: 4, nLayers: 3, tiedEmbeddings: true, valueHead: true },
  ];
  const graphHashes = (fused: boolean): string[][] => {
    ensureBackend();
    setFusedOps(fused ? undefined : false);
    const serialize = vi.spyOn(GraphBuilder.prototype, 'serialize');
    try {
      expect(fusedOpsAvailable()).toBe(fused);
      return hashShapes.map((raw) => {
        const c = parseModelConfig(raw);
        serialize.mockClear();
        [buildForward(c, 'infer'), buildForward(c, 'train'), buildBackward(c)].forEach((g) => g.release());
        buildKV(c);
        return serialize.mock.results.map((r) => createHash('sha256').update(r.value as Uint8Array).digest('hex').slice(0, 16));
      });
    } finally {
      serialize.mockRestore();
      setFusedOps(undefined);
    }
  };

  it.skipIf(process.env.REGIME_ZOO_GRAPH === '0')('should emit every graph byte for byte as before the forward was written once (without the fused kernels)', () => {
    // [infer, train, backward, KV program] per shape
    expect(graphHashes(false)).toEqual([
      ['f6a93785d46e1ef8', 'f6a93785d46e1ef8', '2f7e9e9594dd9d80', 'df6df3f78299dc0d'],
      ['cee57d6c7158aae9', '90c7ea9b97b189c5', '81c0ae905bed8d06', '9fe160f42bb1b858'],
      ['ab83a0ea6bbe7682', 'ed8462f93160debc', '46cd4a4d40c4a0e3', '213cf09ba7f6fc07'],
    ]);
  });

  it.skipIf(process.env.REGIME_ZOO_GRAPH === '0')('should emit the fused-kernel graphs as recorded', () => {
    expect(graphHashes(true)).toEqual([
      ['d8d4d7aeffeab6ca', 'd8d4d7aeffeab6ca', '8f264ba8653778ea', 'fa415a2ea293cc4a'],
      ['b766b5d9a1f03ad2', '6dfeaa886646ad50', '368854e215fd81d5', '45fb463e854d1c8d'],
      ['b0e7e8ca67cbcacb', '4b8fe6935c1dee3b', '25a866b684e8193b', 'd22c4920a07f5959'],
    ]);
  });

  it.each(configs)('should give the eager logits and values (%s) to 2e-6', (_, over) => {
    const m = make(over);
    const rows = fixtureTokens(3, 11, 5);
    const { eager, graph } = both(() => tf.tidy(() => {
      const r = m.forward(rows);
      return [r.logits.arraySync(), r.values?.arraySync() ?? []];
    }));
    expect(maxAbsDiff(graph[0]!.flat(2) as number[], eager[0]!.flat(2) as number[])).toBeLessThan(2e-6);
    expect(maxAbsDiff(graph[1]!.flat() as number[], eager[1]!.flat() as number[])).toBeLessThan(2e-6);
  });

  it.each(configs)('should give the eager gradients of every parameter (%s) to 1e-5 relative', (_, over) => {
    const m = make(over);
    const rows = fixtureTokens(4, 9, 2);
    const { eager, graph } = both(() => tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => lossOf(m, rows), m.variables());
      return { loss: value.dataSync()[0]!, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])) };
    }));
    expect(Math.abs(graph.loss - eager.loss)).toBeLessThan(1e-5);
    expect(Object.keys(graph.grads).sort()).toEqual(Object.keys(eager.grads).sort());
    for (const [name, ge] of Object.entries(eager.grads)) {
      const scale = Math.max(...ge.map(Math.abs), 1e-3);
      const diff = maxAbsDiff(graph.grads[name]!, ge);
      expect(diff / scale, name).toBeLessThan(1e-5);
    }
  });

  it('should give the eager logits and tfjs autodiff gradients on 8 randomized configurations (≤ 2e-6 relative)', () => {
    // Sizes, heads, layers, MLP ratio, tying, value head, batch and length drawn from a seeded generator.
    // Measured: logits ≤ 9e-8, gradients ≤ 6.4e-7 relative (the issue asks for ≤ 1e-5; bounds are ~3× measured).
    const rand = xorshift(18);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const worst = { logits: 0, grad: 0 };
    for (let trial = 0; trial < 8; trial++) {
      const nHeads = pick([1, 2, 4]);
      const dModel = nHeads * pick([4, 8, 12]);
      const over = {
        vocabSize: 8 + Math.floor(rand() * 40),
        contextLength: 8 + Math.floor(rand() * 17),
        dModel,
        nHeads,
        nLayers: 1 + Math.floor(rand() * 3),
        mlpRatio: pick([1, 2, 4]),
        tiedEmbeddings: rand() < 0.5,
        valueHead: rand() < 0.5,
        seed: trial,
      };
      const m = make(over);
      const rows = fixtureTokens(1 + Math.floor(rand() * 4), 2 + Math.floor(rand() * (over.contextLength - 1)), 30 + trial, 0, over.vocabSize);
      const label = JSON.stringify({ ...over, batch: rows.length, length: rows[0]!.length });
      const { eager, graph } = both(() =>
        tf.tidy(() => {
          const logits = Array.from(m.forward(rows).logits.dataSync());
          const { grads } = tf.variableGrads(() => lossOf(m, rows), m.variables());
          return { logits, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())])) };
        }),
      );
      worst.logits = Math.max(worst.logits, maxAbsDiff(graph.logits, eager.logits));
      expect(maxAbsDiff(graph.logits, eager.logits), label).toBeLessThan(3e-7);
      expect(Object.keys(graph.grads).sort(), label).toEqual(Object.keys(eager.grads).sort());
      for (const [name, ge] of Object.entries(eager.grads)) {
        const rel = maxAbsDiff(graph.grads[name]!, ge) / Math.max(...ge.map(Math.abs), 1e-3);
        worst.grad = Math.max(worst.grad, rel);
        expect(rel, `${label} ${name}`).toBeLessThan(2e-6);
      }
      m.dispose();
      models.splice(models.indexOf(m), 1);
    }
    console.log(`randomized parity: logits ≤ ${worst.logits.toExponential(2)}, gradients ≤ ${worst.grad.toExponential(2)} relative`);
  });

  it('should give the value head no gradient from a loss without values, as the eager path does', () => {
    const m = make({ valueHead: true });
    const rows = fixtureTokens(2, 7, 3);
    const names = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const ids = tf.tensor2d(rows, undefined, 'int32');
        return tf.neg(tf.mean(tokenLogProbs(m.forward(ids).logits, ids))) as tf.Scalar;
      }, m.variables());
      return Object.keys(grads);
    });
    expect(names.length).toBe(m.variables().length - 2);
    expect(names.some((n) => n.includes('value_head'))).toBe(false);
  });

  it('should run a frozen model inside a loss on the inference graph (no saved activations), with the eager gradients of the trained model', () => {
    const policy = make({ valueHead: true });
    const base = policy.clone({ trainable: false });
    models.push(base);
    const rows = fixtureTokens(3, 9, 4);
    // Tensors a forward adds inside a gradient tape: the train graph's output and every saved activation
    // for a trainable model, only logits and values for a frozen one.
    const added = (m: Transformer) =>
      tf.tidy(() => {
        let n = 0;
        tf.variableGrads(() => {
          const before = tf.memory().numTensors;
          const ids = tf.tensor2d(rows, undefined, 'int32');
          const out = m.forward(ids);
          n = tf.memory().numTensors - before - 1;
          return tf.add(tf.sum(out.logits), tf.sum(policy.params.get('unembed.b_U')!)) as tf.Scalar;
        }, policy.variables());
        return n;
      });
    expect(added(base)).toBe(2); // logits and values
    expect(added(policy)).toBeGreaterThan(15 * policy.config.nLayers);
    // A DPO-style loss: log π − log π₀ on the same rows; the gradient reaches the policy only, as on the eager path.
    const { eager, graph } = both(() =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const ids = tf.tensor2d(rows, undefined, 'int32');
          return tf.neg(tf.mean(tf.sub(tokenLogProbs(policy.forward(ids).logits, ids), tokenLogProbs(base.forward(ids).logits, ids)))) as tf.Scalar;
        });
        return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())]));
      }),
    );
    expect(Object.keys(graph).sort()).toEqual(Object.keys(eager).sort());
    expect(Object.keys(graph).every((k) => policy.variables().some((v) => v.name === k))).toBe(true);
    for (const [name, ge] of Object.entries(eager)) expect(maxAbsDiff(graph[name]!, ge) / Math.max(...ge.map(Math.abs), 1e-3), name).toBeLessThan(1e-5);
  });

  it('should decode with the KV cache to the full-forward logits (≤ 1e-5) and keep tensors balanced', async () => {
    const m = make({ valueHead: true });
    const rows = fixtureTokens(2, 12, 9);
    const full = tf.tidy(() => m.forward(rows).logits.arraySync());
    await expectNoTensorLeak(() => {
      const kv = m.newKVCache(2);
      const steps: number[][][] = [];
      tf.tidy(() => {
        steps.push(...m.decode(rows.map((r) => r.slice(0, 4)), kv).logits.arraySync().map((r) => r.flat()).map((x) => [x]));
      });
      let maxDiff = 0;
      const first = tf.tidy(() => m.forward(rows.map((r) => r.slice(0, 4))).logits.arraySync());
      maxDiff = Math.max(maxDiff, maxAbsDiff(first.flat(2), full.map((r) => r.slice(0, 4)).flat(2)));
      for (let t = 4; t < 12; t++) {
        const step = tf.tidy(() => m.decode(rows.map((r) => [r[t]!]), kv).logits.arraySync());
        maxDiff = Math.max(maxDiff, maxAbsDiff(step.map((r) => r[0]!).flat(), full.map((r) => r[t]!).flat()));
      }
      expect(kv.length).toBe(12);
      m.disposeKVCache(kv);
      expect(maxDiff).toBeLessThan(1e-5);
      expect(steps.length).toBe(2);
    }, 'decode');
  });

  // Feeds `rows` through the cache in blocks of `sizes` tokens; returns the largest difference from the full forward.
  function decodeDiff(m: Transformer, rows: number[][], sizes: number[], options: (i: number) => Parameters<Transformer['decode']>[2] = () => ({})): number {
    const full = tf.tidy(() => m.forward(rows).logits.arraySync());
    const kv = m.newKVCache(rows.length);
    let at = 0;
    let maxDiff = 0;
    sizes.forEach((n, i) => {
      const out = tf.tidy(() => m.decode(rows.map((r) => r.slice(at, at + n)), kv, options(i)).logits.arraySync());
      maxDiff = Math.max(maxDiff, maxAbsDiff(out.flat(2), full.map((r) => r.slice(at, at + n)).flat(2)));
      at += n;
    });
    expect(kv.length).toBe(at);
    m.disposeKVCache(kv);
    return maxDiff;
  }

  it('should read a long cache in pieces (up to the cap of 8) and still give the full-forward logits (≤ 1e-5)', () => {
    // 64 rows × dModel 128: 8 cache positions per piece, so 84 positions take 11 pieces, capped to 8 of 11.
    const m = make({ vocabSize: 32, contextLength: 96, dModel: 128, nHeads: 4, nLayers: 1 });
    const plans = [8, 40, 83].map((length) => stepPlan(m.config, 64, length));
    expect(plans).toEqual([{ entry: 'step2', rows: 8 }, { entry: 'step6', rows: 8 }, { entry: 'step8', rows: 11 }]);
    const rows = fixtureTokens(64, 84, 12, 1, 32);
    // Prefill 4, steps, a 3-token block mid-way (the decode graph after start 0), steps to the end.
    expect(decodeDiff(m, rows, [4, ...Array(30).fill(1), 3, ...Array(47).fill(1)])).toBeLessThan(1e-5);
  });

  it('should move a cache out of its graph session when a call needs eager ops, and keep two caches apart', async () => {
    const m = make({ valueHead: true });
    const rows = fixtureTokens(3, 14, 5);
    // Hooks send steps 6 and later to the eager path, which takes over the cache the graph session built.
    const hook = { 'blocks.0.hook_resid_pre': () => undefined };
    expect(decodeDiff(m, rows, [5, ...Array(9).fill(1)], (i) => (i >= 6 ? { hooks: hook } : {}))).toBeLessThan(1e-5);
    // Two caches decoded in turns (two sessions), then a third for another batch size (a reused session resized).
    const a = m.newKVCache(3);
    const b = m.newKVCache(3);
    const other = fixtureTokens(3, 14, 6);
    const full = tf.tidy(() => [m.forward(rows).logits.arraySync(), m.forward(other).logits.arraySync()]);
    let maxDiff = 0;
    for (let t = 0; t < 14; t++) {
      [a, b].forEach((kv, k) => {
        const src = k === 0 ? rows : other;
        const out = tf.tidy(() => m.decode(src.map((r) => [r[t]!]), kv).logits.arraySync());
        maxDiff = Math.max(maxDiff, maxAbsDiff(out.flat(2), full[k]!.map((r) => r[t]!).flat()));
      });
    }
    m.disposeKVCache(a);
    m.disposeKVCache(b);
    expect(maxDiff).toBeLessThan(1e-5);
    expect(decodeDiff(m, fixtureTokens(5, 9, 7), [2, ...Array(7).fill(1)])).toBeLessThan(1e-5);
    // Caches of alternating batch sizes resize a pooled session each time, without leaking a tensor
    // (decoded outside any tf.tidy, which would hide a leak).
    await expectNoTensorLeak(() => {
      for (const rows of [4, 2]) {
        const kv = m.newKVCache(rows);
        const { logits, values } = m.decode(fixtureTokens(rows, 3, 8), kv);
        tf.dispose([logits, values!]);
        m.disposeKVCache(kv);
      }
    }, 'resized sessions');
  });

  it('should leave no tensors behind after graph training steps', async () => {
    const m = make();
    const rows = fixtureTokens(2, 8, 4);
    lossOf(m, rows).dispose();
    await expectNoTensorLeak(() => {
      for (let i = 0; i < 5; i++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => lossOf(m, rows), m.variables());
          return [value, ...Object.values(grads)];
        }).forEach((t) => t.dispose());
      }
    }, 'graph training');
  });
});
