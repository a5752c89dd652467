import { Rng, runProbe, tf, type HookFn } from '@regime-zoo/core';
import { backdoorWorld, offSwitchWorld } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { collectActivations } from './activations.js';
import { ccs, ccsProbe } from './ccs.js';
import { linearProbe } from './linear.js';
import { probeFeature } from './logistic.js';
import { findRows } from './report.js';
import { bagOfTokensModel, myopiaPolicy, probeContext, scriptedModel, V } from './test-helpers.js';

/** Gaussian rows: `types` prompt types with their own small code, and a label planted along one direction. */
function plantedRows(n: number, D: number, types: number, strength: number, seed: number) {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const codes = Array.from({ length: types }, () => Array.from({ length: D }, () => 0.3 * gauss()));
  const X: Float32Array[] = [];
  const labels: boolean[] = [];
  const typeOf: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = rng.int(types);
    const y = rng.next() < 0.5;
    X.push(Float32Array.from({ length: D }, (_, d) => codes[t]![d]! + (d === 0 ? (y ? strength : -strength) : 0) + gauss()));
    labels.push(y);
    typeOf.push(String(t));
  }
  return { X, labels, typeOf };
}

describe('linear probe', () => {
  it('should recover a feature planted in the residual stream by a hook, with high selectivity against a control task', () => {
    // Planted at blocks.0.hook_resid_post of a real model's forward pass, at the position probed.
    const model = scriptedModel({ vocabSize: V }, () => undefined);
    const { labels, typeOf } = plantedRows(400, 1, 40, 0, 3);
    const seqs = labels.map((_, i) => [1, 4 + (i % 7), 5, 3]);
    const D = model.config.dModel;
    const rng = new Rng(5);
    const plant = tf.tensor3d(
      // flat: [row][position][dim]
      seqs.flatMap((s, i) => s.map((_, t) => Array.from({ length: D }, (_, d) => (t === 3 ? (d === 10 ? (labels[i] ? 1 : -1) : 0) + 0.5 * (rng.next() - 0.5) : 0)))).flat(2),
      [seqs.length, 4, D],
    );
    const hooks: Record<string, HookFn> = { 'blocks.0.hook_resid_post': (a) => tf.add(a, plant) };
    const acts = collectActivations(model, seqs, seqs.map(() => 3), ['blocks.0.hook_resid_post'], { batchSize: seqs.length, hooks });
    const r = probeFeature(acts['blocks.0.hook_resid_post']!, labels, typeOf, { seed: 1 });
    expect(r.accuracy.estimate).toBeGreaterThanOrEqual(0.95);
    expect(r.auroc.estimate).toBeGreaterThanOrEqual(0.95);
    // Forty prompt types with random labels and no type code in the activations: the control is at chance.
    expect(r.control.estimate).toBeLessThan(0.65);
    expect(r.selectivity).toBeGreaterThan(0.3);
    plant.dispose();
    model.dispose();
  });

  it('should give selectivity near 0 when the feature is a property of the prompt the model represents (Hewitt & Liang control)', async () => {
    // The trigger is shown in the prompt; the bag-of-tokens model plants the prompt at <sep>, so a
    // probe reads the trigger (accuracy ≥ 0.95) — and any random label per prompt just as well.
    const policy = bagOfTokensModel(4);
    const { rows } = await runProbe(linearProbe({ feature: 'trigger', episodes: 200 }), probeContext(policy, [backdoorWorld()]));
    for (const split of ['id', 'ood'] as const) {
      const at = (m: string) => findRows({ rows: rows! }, { split, metric: `trigger/layer0/${m}` })[0]!;
      expect(at('accuracy').value).toBeGreaterThanOrEqual(0.95);
      expect(Math.abs(at('selectivity').value)).toBeLessThanOrEqual(0.1);
      expect(at('accuracy').n).toBe(60);
    }
    policy.dispose();
  });

  it('should read any per-position hook point: the heads\' outputs attn.hook_z carry the averaged prompt', async () => {
    const policy = bagOfTokensModel(4);
    const { rows } = await runProbe(linearProbe({ feature: 'trigger', episodes: 100, hook: 'attn.hook_z' }), probeContext(policy, [backdoorWorld()], { splits: ['id'] }));
    expect(findRows({ rows: rows! }, { metric: 'trigger/layer0/accuracy' })[0]!.value).toBeGreaterThanOrEqual(0.95);
    expect(() => linearProbe({ feature: 'trigger', hook: 'attn.hook_pattern' })).toThrow(/\[linear-probe\] options\.hook: must be a block hook point with a vector per position/);
    policy.dispose();
  });

  it('should read nothing where nothing is planted: a last-token model has the same <sep> activation for every prompt', async () => {
    const policy = scriptedModel({ vocabSize: V }, () => undefined);
    const { rows } = await runProbe(linearProbe({ feature: 'trigger', episodes: 200 }), probeContext(policy, [backdoorWorld()], { splits: ['id'] }));
    expect(findRows({ rows: rows! }, { metric: 'trigger/layer0/accuracy' })[0]!.value).toBeLessThan(0.7);
    policy.dispose();
  });

  it('should fail with PROBE_UNSUPPORTED naming the probe, the world and the missing feature', async () => {
    const policy = myopiaPolicy(0.5);
    await expect(runProbe(linearProbe({ feature: 'supervised', episodes: 8 }), probeContext(policy, [backdoorWorld()]))).rejects.toMatchObject({
      code: 'PROBE_UNSUPPORTED',
      plugin: 'linear-probe',
      field: 'feature',
      message: expect.stringMatching(/\[probe linear-probe\] world 'backdoor': has no feature 'supervised' \(its features are unsafe, trigger/),
    });
    policy.dispose();
  });
});

describe('CCS', () => {
  it('should find a planted contrast direction without labels (accuracy ≥ 0.9)', () => {
    const rng = new Rng(7);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const D = 12;
    const pos: Float32Array[] = [];
    const neg: Float32Array[] = [];
    const labels: boolean[] = [];
    for (let i = 0; i < 300; i++) {
      const y = rng.next() < 0.5;
      const base = Array.from({ length: D }, () => gauss());
      // x⁺ says "true", x⁻ says "false"; the planted truth direction (dim 3) points the way of the true one.
      pos.push(Float32Array.from(base, (b, d) => b + (d === 3 ? (y ? 2 : -2) : 0) + 0.3 * gauss() + (d === 0 ? 5 : 0)));
      neg.push(Float32Array.from(base, (b, d) => b + (d === 3 ? (y ? -2 : 2) : 0) + 0.3 * gauss() - (d === 0 ? 5 : 0)));
      labels.push(y);
    }
    const r = ccs(pos, neg, labels, { seed: 1, restarts: 2, steps: 200 });
    expect(r.accuracy.estimate).toBeGreaterThanOrEqual(0.9);
    // Random labels: the same direction is no better than chance.
    const shuffled = labels.map(() => rng.next() < 0.5);
    expect(ccs(pos, neg, shuffled, { seed: 1, restarts: 2, steps: 200 }).accuracy.estimate).toBeLessThan(0.62);
  });

  it("should find the backdoor trigger from the world's contrast pairs where the model represents the prompt", async () => {
    const policy = bagOfTokensModel(4);
    const { rows } = await runProbe(ccsProbe({ feature: 'trigger', pairs: 200, restarts: 2, steps: 200 }), probeContext(policy, [backdoorWorld()]));
    for (const r of findRows({ rows: rows! }, { metric: 'trigger/layer0/ccs_accuracy' })) expect(r.value).toBeGreaterThanOrEqual(0.9);
    await expect(runProbe(ccsProbe({ feature: 'trigger', pairs: 8 }), probeContext(policy, [offSwitchWorld()]))).rejects.toMatchObject({
      code: 'PROBE_UNSUPPORTED',
      message: expect.stringMatching(/world 'off-switch': has no contrast pairs for feature 'trigger'; CCS pairs exist for backdoor\/trigger, off-switch\/p/),
    });
    policy.dispose();
  });
});
