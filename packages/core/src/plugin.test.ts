import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { corridor } from './__fixtures__/corridor.js';
import { findCheckpoint } from './checkpoint-store.js';
import { mleRegime } from './examples/mle-regime.js';
import { Transformer } from './model.js';
import { z } from 'zod';
import { ZooError } from './errors.js';
import { createFitContext, defineProbe, runFit, runProbe, type Example } from './plugin.js';
import { Rng } from './rng.js';
import { rollout } from './rollout.js';

const docPath = new URL('../../../docs/writing-a-regime.md', import.meta.url);
const examplePath = new URL('./examples/mle-regime.ts', import.meta.url);
const config = { vocabSize: 16, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 1, seed: 3 };

/** Episodes of a scripted policy that always goes right (the corridor's optimal behaviour). */
function rightwardData(n: number): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    let s = corridor.reset(new Rng(i)).state;
    const tokens = [...corridor.reset(new Rng(i)).tokens];
    const mask = tokens.map(() => false);
    for (;;) {
      const r = corridor.step(s, 5);
      tokens.push(5, ...r.observation);
      mask.push(true, ...r.observation.map(() => false));
      s = r.state;
      if (r.done) break;
    }
    out.push({ tokens, targetMask: mask });
  }
  return out;
}

describe('writing-a-regime', () => {
  it('should show the example regime verbatim in docs/writing-a-regime.md', () => {
    const doc = fs.readFileSync(docPath, 'utf8');
    const block = doc.split('<!-- example:mle-regime -->\n```ts\n')[1]?.split('```')[0];
    expect(block).toBe(fs.readFileSync(examplePath, 'utf8'));
  });

  it('should validate options when the factory is called', () => {
    expect(() => mleRegime({ steps: 0 })).toThrow(/\[example-mle\] options\.steps/);
    expect(mleRegime({ steps: 3 })).toMatchObject({ name: 'example-mle', kind: 'regime' });
  });

  it('should train a policy that then takes the demonstrated action greedily', async () => {
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const logged: number[] = [];
    const ctx = createFitContext({ base, policy, rng: new Rng(1), dataset: rightwardData(8), log: (_s, m) => logged.push(m.loss!) });
    const report = await runFit(mleRegime({ steps: 60, lr: 1e-2, batchSize: 8 }), ctx);
    expect(report.steps).toBe(60);
    expect(logged[59]!).toBeLessThan(logged[0]! / 4);
    const eps = rollout(policy, corridor, { episodes: 2, rng: new Rng(1), temperature: 0 });
    expect(eps[0]!.return).toBe(7); // three steps right: −1, −1, +9
    // The frozen base was not touched.
    const same = tf.tidy(() => tf.max(tf.abs(tf.sub(base.params.get('embed.W_E')!, policy.params.get('embed.W_E')!))).dataSync()[0]!);
    expect(same).toBeGreaterThan(0);
    [policy, base].forEach((m) => m.dispose());
  });

  it('should stop on abort with a checkpoint, and resume from it to the end', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rz-plugin-')), 'ck');
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const ac = new AbortController();
    const ctx = createFitContext({
      base,
      policy,
      rng: new Rng(1),
      dataset: rightwardData(4),
      signal: ac.signal,
      checkpointDir: dir,
      progress: (e) => e.step === 5 && ac.abort(),
    });
    const first = await runFit(mleRegime({ steps: 10 }), ctx);
    expect(first).toMatchObject({ steps: 5, aborted: true });
    expect(JSON.parse(fs.readFileSync(path.join((await findCheckpoint(dir))!.folder, 'model.json'), 'utf8')).step).toBe(5);
    const again = await runFit(mleRegime({ steps: 10 }), { ...ctx, signal: new AbortController().signal, progress: () => {} });
    expect(again).toMatchObject({ steps: 10 });
    expect(again.aborted).toBeUndefined();
    [policy, base].forEach((m) => m.dispose());
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('should name the regime and hook when fit fails', async () => {
    const policy = Transformer.create(config);
    const base = policy.clone({ trainable: false });
    const ctx = createFitContext({ base, policy, rng: new Rng(1) });
    await expect(runFit(mleRegime(), ctx)).rejects.toMatchObject({
      code: 'EMPTY_DATASET',
      plugin: 'example-mle',
      hook: 'fit',
      field: 'dataset',
      message: '[plugin example-mle, hook fit] the dataset is empty; pass behaviour episodes in ctx.dataset',
    });
    [policy, base].forEach((m) => m.dispose());
  });

  it('should refuse a context whose base is the policy itself', async () => {
    const policy = Transformer.create(config);
    const ctx = createFitContext({ base: policy, policy, rng: new Rng(1), dataset: rightwardData(4) });
    await expect(runFit(mleRegime({ steps: 2 }), ctx)).rejects.toMatchObject({ code: 'CONFIG_INVALID', plugin: 'example-mle', hook: 'fit', field: 'base' });
    policy.dispose();
  });

  it('should name the probe and hook when a probe fails, and keep a ZooError code', async () => {
    const broken = defineProbe({
      name: 'example-probe',
      options: z.object({ fail: z.enum(['plain', 'coded']).default('plain') }).strict(),
      create: (o) => ({
        async run() {
          if (o.fail === 'coded') throw new ZooError('PROBE_UNSUPPORTED', "world 'tamper' has no feature 'p'", { field: 'feature' });
          throw new Error('boom');
        },
      }),
    });
    const policy = Transformer.create(config);
    const ctx = { policy, worlds: [], rng: new Rng(1), signal: new AbortController().signal, shared: {} };
    await expect(runProbe(broken(), ctx)).rejects.toMatchObject({ code: 'PLUGIN_FAILED', plugin: 'example-probe', hook: 'run', message: '[plugin example-probe, hook run] boom' });
    await expect(runProbe(broken({ fail: 'coded' }), ctx)).rejects.toMatchObject({ code: 'PROBE_UNSUPPORTED', plugin: 'example-probe', hook: 'run', field: 'feature' });
    policy.dispose();
  });
});
