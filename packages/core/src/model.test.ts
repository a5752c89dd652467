import { fixtureTokens, maxAbsDiff, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { hookNames, Transformer } from './model.js';
import { sequenceLogProbs, tokenLogProbs } from './ops.js';
import { Trainer } from './train.js';

const models: Transformer[] = [];
const make = (over: Record<string, unknown> = {}) => {
  const m = Transformer.create({ ...tinyConfig, ...over });
  models.push(m);
  return m;
};
afterAll(() => models.forEach((m) => m.dispose()));

function nllLoss(model: Transformer, rows: number[][]): tf.Scalar {
  const ids = tf.tensor2d(rows, undefined, 'int32');
  const { logits } = model.forward(ids);
  return tf.neg(tf.mean(tokenLogProbs(logits, ids))) as tf.Scalar;
}

describe('Transformer', () => {
  it('should produce logits of shape [batch, time, vocab] and be seeded', () => {
    const a = make();
    const b = make();
    const rows = fixtureTokens(3, 10);
    const la = tf.tidy(() => a.forward(rows).logits);
    const lb = tf.tidy(() => b.forward(rows).logits);
    expect(la.shape).toEqual([3, 10, 16]);
    expect(maxAbsDiff(la.dataSync(), lb.dataSync())).toBe(0);
    tf.dispose([la, lb]);
  });

  it('should be causal: changing a later token leaves earlier logits unchanged', () => {
    const m = make();
    const x = fixtureTokens(1, 12)[0]!;
    const y = [...x];
    y[8] = (y[8]! % 15) + 1;
    const [lx, ly] = tf.tidy(() => [m.forward([x]).logits.arraySync()[0]!, m.forward([y]).logits.arraySync()[0]!]);
    expect(maxAbsDiff(lx!.slice(0, 8).flat(), ly!.slice(0, 8).flat())).toBeLessThan(1e-6);
    expect(maxAbsDiff(lx![8]!, ly![8]!)).toBeGreaterThan(1e-4);
  });

  it('should memorise 16 fixed 32-token sequences to mean loss < 0.05 (2 layers)', () => {
    const m = make({ dModel: 64, nHeads: 4, nLayers: 2, contextLength: 32 });
    const data = fixtureTokens(16, 32, 7);
    const trainer = new Trainer(m, { totalSteps: 300, optimizer: { lr: 3e-3, warmupSteps: 20, weightDecay: 0 } });
    let last = Infinity;
    for (let s = 0; s < 300; s++) last = trainer.trainStep(() => ({ loss: nllLoss(m, data) })).loss;
    trainer.dispose();
    const final = tf.tidy(() => nllLoss(m, data).dataSync()[0]!);
    expect(final).toBeLessThan(0.05);
    expect(last).toBeLessThan(0.1);
  });

  it('should match finite-difference gradients (float32: |Δ| ≤ 2e-3 + 2e-2·|g|)', () => {
    const m = make({ vocabSize: 8, dModel: 8, nHeads: 2, nLayers: 1, contextLength: 8, valueHead: false });
    const rows = fixtureTokens(2, 6, 3, 0, 8);
    const vars = m.variables();
    const { grads } = tf.variableGrads(() => nllLoss(m, rows), vars);
    const loss = () => tf.tidy(() => nllLoss(m, rows).dataSync()[0]!);
    const h = 3e-3;
    let checked = 0;
    for (const [name, v] of m.params) {
      const g = grads[v.name]!.dataSync();
      const values = v.dataSync().slice();
      for (const i of [0, Math.floor(values.length / 2), values.length - 1]) {
        const orig = values[i]!;
        values[i] = orig + h;
        v.assign(tf.tensor(values, v.shape));
        const up = loss();
        values[i] = orig - h;
        v.assign(tf.tensor(values, v.shape));
        const down = loss();
        values[i] = orig;
        v.assign(tf.tensor(values, v.shape));
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - g[i]!), `${name}[${i}] fd=${fd} grad=${g[i]}`).toBeLessThanOrEqual(2e-3 + 2e-2 * Math.abs(g[i]!));
        checked++;
      }
    }
    tf.dispose(Object.values(grads));
    expect(checked).toBe(3 * m.params.size);
  });

  it('should give the same logits with KV-cache decoding as with a full forward (≤ 1e-4)', () => {
    const m = make({ valueHead: true });
    const rows = fixtureTokens(3, 20, 5);
    const full = tf.tidy(() => m.forward(rows).logits);
    const kv = m.newKVCache(3);
    const parts: tf.Tensor[] = [];
    // A 4-token prefill, then one token at a time.
    parts.push(m.decode(rows.map((r) => r.slice(0, 4)), kv).logits);
    for (let t = 4; t < 20; t++) parts.push(m.decode(rows.map((r) => [r[t]!]), kv).logits);
    const inc = tf.concat(parts, 1);
    expect(kv.length).toBe(20);
    expect(maxAbsDiff(full.dataSync(), inc.dataSync())).toBeLessThanOrEqual(1e-4);
    m.disposeKVCache(kv);
    tf.dispose([full, inc, ...parts]);
  });

  it('should name the hook points as TransformerLens does, in forward order (read off the one forward definition)', () => {
    const block = (l: number) =>
      ['hook_resid_pre', 'ln1.hook_normalized', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v', 'attn.hook_attn_scores', 'attn.hook_pattern', 'attn.hook_z', 'hook_attn_out', 'hook_resid_mid', 'ln2.hook_normalized', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post'].map((n) => `blocks.${l}.${n}`);
    expect(hookNames(1)).toEqual(['hook_embed', 'hook_pos_embed', ...block(0), 'ln_final.hook_normalized']);
    expect(hookNames(3)).toEqual(['hook_embed', 'hook_pos_embed', ...block(0), ...block(1), ...block(2), 'ln_final.hook_normalized']);
  });

  it('should expose every TransformerLens hook point in runWithCache with the right shapes', () => {
    const m = make();
    const rows = fixtureTokens(2, 5);
    const { logits, cache } = m.runWithCache(rows);
    expect(Object.keys(cache).sort()).toEqual(hookNames(2).sort());
    expect(cache['blocks.1.hook_resid_post']!.shape).toEqual([2, 5, 16]);
    expect(cache['blocks.0.attn.hook_pattern']!.shape).toEqual([2, 2, 5, 5]);
    expect(cache['blocks.0.attn.hook_q']!.shape).toEqual([2, 5, 2, 8]);
    // Patterns are causal distributions: rows sum to 1, zero above the diagonal.
    const p = cache['blocks.0.attn.hook_pattern']!.arraySync() as number[][][][];
    expect(p[0]![1]![2]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(p[0]![1]![2]![3]).toBe(0);
    // The residual stream after the last block, through ln_final, gives the logits: check via a filter.
    const only = m.runWithCache(rows, { namesFilter: ['blocks.0.hook_resid_pre'] });
    expect(Object.keys(only.cache)).toEqual(['blocks.0.hook_resid_pre']);
    const embed = tf.tidy(() => tf.add(cache.hook_embed!, cache.hook_pos_embed!));
    expect(maxAbsDiff(embed.dataSync(), only.cache['blocks.0.hook_resid_pre']!.dataSync())).toBeLessThan(1e-6);
    tf.dispose([logits, only.logits, embed, ...Object.values(cache), ...Object.values(only.cache)]);
  });

  it('should let a hook replace an activation (zero-ablating attention changes the logits)', () => {
    const m = make();
    const rows = fixtureTokens(1, 6);
    const [base, ablated] = tf.tidy(() => [
      m.forward(rows).logits.dataSync(),
      m.forward(rows, { hooks: { 'blocks.0.hook_attn_out': (a) => tf.zerosLike(a) } }).logits.dataSync(),
    ]);
    expect(maxAbsDiff(base!, ablated!)).toBeGreaterThan(1e-4);
  });

  it('should keep old embedding rows bit-identical when growing the vocabulary', () => {
    const m = make();
    const before = m.params.get('embed.W_E')!.arraySync() as number[][];
    const beforeU = m.params.get('unembed.W_U')!.arraySync() as number[][];
    m.growVocab(20);
    expect(m.config.vocabSize).toBe(20);
    const after = m.params.get('embed.W_E')!.arraySync() as number[][];
    expect(after.length).toBe(20);
    expect(after.slice(0, 16)).toEqual(before);
    expect((m.params.get('unembed.W_U')!.arraySync() as number[][]).map((r) => r.slice(0, 16))).toEqual(beforeU);
    const logits = tf.tidy(() => m.forward([[1, 19, 2]]).logits);
    expect(logits.shape).toEqual([1, 3, 20]);
    logits.dispose();
  });

  it('should compute masked sequence log-probs as the sum of the selected token log-probs', () => {
    const m = make();
    const rows = fixtureTokens(2, 6);
    const [seq, per] = tf.tidy(() => {
      const ids = tf.tensor2d(rows, undefined, 'int32');
      const { logits } = m.forward(ids);
      const mask = tf.tensor2d([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1]]);
      return [sequenceLogProbs(logits, ids, mask).arraySync(), tokenLogProbs(logits, ids).arraySync()];
    }) as [number[], number[][]];
    expect(seq[0]).toBeCloseTo(per[0]![0]! + per[0]![2]!, 5);
    expect(seq[1]).toBeCloseTo(per[1]![4]!, 5);
    expect(Math.max(...per.flat())).toBeLessThan(0);
  });
});
