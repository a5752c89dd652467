import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rejected, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { corridor } from './__fixtures__/corridor.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { callPluginHook, toZooError, ZooError } from './errors.js';
import { Transformer } from './model.js';
import { fitWithLoss } from './loop.js';
import { createFitContext, defineRegime, runFit } from './plugin.js';
import { Rng } from './rng.js';
import { rollout } from './rollout.js';
import { Trainer } from './train.js';

const model = Transformer.create(tinyConfig);
afterAll(() => model.dispose());
const made: string[] = [];
const tmp = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-err-'));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('bad input gives a coded error naming the field or position and the fix', () => {
  it('0: every error is a ZooError instance', async () => {
    await expect(Promise.resolve().then(() => Transformer.create({ ...tinyConfig, nLayers: 0 }))).rejects.toBeInstanceOf(ZooError);
  });

  it('1: heads that do not divide dModel', async () => {
    const e = await rejected(() => Transformer.create({ ...tinyConfig, dModel: 30, nHeads: 4 }));
    expect([e.code, e.field]).toEqual(['CONFIG_INVALID', 'nHeads']);
    expect(e.message).toContain('nHeads (4) must divide dModel (30); try nHeads = 3');
  });

  it('2: a context longer than 256', async () => {
    const e = await rejected(() => Transformer.create({ ...tinyConfig, contextLength: 300 }));
    expect([e.code, e.field]).toEqual(['CONFIG_INVALID', 'contextLength']);
    expect(e.message).toMatch(/model config\.contextLength: .*256/);
  });

  it('3: a misspelt config field', async () => {
    const e = await rejected(() => Transformer.create({ ...tinyConfig, dmodel: 8 } as never));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('unknown field(s) "dmodel"; remove them or check the spelling');
  });

  it('4: a token id outside the vocabulary', async () => {
    const e = await rejected(() => model.forward([[1, 2, 3], [4, 16, 5]]));
    expect([e.code, e.position]).toEqual(['TOKEN_OUT_OF_RANGE', [1, 1]]);
    expect(e.message).toContain('token id 16 at row 1, position 1 is outside the vocabulary [0, 15]');
  });

  it('5: a sequence longer than the context', async () => {
    const e = await rejected(() => model.forward([Array.from({ length: 33 }, () => 1)]));
    expect([e.code, e.position]).toEqual(['SEQUENCE_TOO_LONG', [0, 32]]);
    expect(e.message).toContain('truncate to 32');
  });

  it('6: rows of different lengths', async () => {
    const e = await rejected(() => model.forward([[1, 2, 3], [1, 2]]));
    expect([e.code, e.position]).toEqual(['SHAPE_MISMATCH', [1]]);
    expect(e.message).toContain('pad rows to one length');
  });

  it('7: a checkpoint folder that does not exist', async () => {
    const e = await rejected(() => loadCheckpoint(path.join(tmp(), 'nope')));
    expect(e.code).toBe('CHECKPOINT_MISSING');
    expect(e.message).toContain('pass the directory given to saveCheckpoint (or one of its step folders)');
  });

  it('8: a truncated weights.bin', async () => {
    const dir = path.join(tmp(), 'ck');
    const bin = path.join((await saveCheckpoint(dir, { model })).path, 'weights.bin');
    fs.truncateSync(bin, 100);
    const e = await rejected(() => loadCheckpoint(dir));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_CORRUPT', bin]);
    expect(e.message).toMatch(/is 100 bytes but model\.json expects \d+; the file is truncated/);
  });

  it('9: weights that do not fit the config', async () => {
    const dir = path.join(tmp(), 'ck');
    const json = path.join((await saveCheckpoint(dir, { model })).path, 'model.json');
    const meta = JSON.parse(fs.readFileSync(json, 'utf8'));
    meta.config.mlpRatio = 2;
    fs.writeFileSync(json, JSON.stringify(meta));
    const e = await rejected(() => loadCheckpoint(dir));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_MISMATCH', 'blocks.0.mlp.W_in']);
    expect(e.message).toContain('weight "blocks.0.mlp.W_in" has shape [16,64] but the config needs [16,32]');
  });

  it('10: a checkpoint from another format version', async () => {
    const dir = path.join(tmp(), 'ck');
    const json = path.join((await saveCheckpoint(dir, { model })).path, 'model.json');
    fs.writeFileSync(json, JSON.stringify({ ...JSON.parse(fs.readFileSync(json, 'utf8')), version: 99 }));
    const e = await rejected(() => loadCheckpoint(dir));
    expect([e.code, e.field]).toEqual(['CHECKPOINT_MISMATCH', `${json}#version`]);
    expect(e.message).toContain('Use the core version that wrote it');
  });

  it('11: a damaged model.json', async () => {
    const dir = path.join(tmp(), 'ck');
    fs.writeFileSync(path.join((await saveCheckpoint(dir, { model })).path, 'model.json'), '{"format": "regime-zoo-checkpoint", ');
    const e = await rejected(() => loadCheckpoint(dir));
    expect(e.code).toBe('CHECKPOINT_CORRUPT');
    expect(e.message).toContain('use an earlier one');
  });

  it('12: a NaN loss', async () => {
    const m = model.clone();
    const t = new Trainer(m, { totalSteps: 2 });
    const e = await rejected(() => t.trainStep(() => ({ loss: tf.add(tf.mul(tf.sum(m.params.get('unembed.b_U')!), 0), Number.NaN) as tf.Scalar })));
    expect([e.code, e.step, e.field]).toEqual(['NON_FINITE', 0, 'loss']);
    expect(e.message).toContain('Lower the learning rate or check the data and rewards');
    t.dispose();
    m.dispose();
  });

  it('12b: a loss that does not depend on the model', async () => {
    const m = model.clone();
    const t = new Trainer(m, { totalSteps: 2 });
    const e = await rejected(() => t.trainStep(() => ({ loss: tf.scalar(1) })));
    expect([e.code, e.step]).toEqual(['CONFIG_INVALID', 0]);
    expect(e.message).toContain('compute the loss from model.forward');
    t.dispose();
    m.dispose();
  });

  it('13: a negative learning rate', async () => {
    const e = await rejected(() => new Trainer(model, { totalSteps: 2, optimizer: { lr: -1 } }));
    expect([e.code, e.field]).toEqual(['CONFIG_INVALID', 'optimizer.lr']);
  });

  it('14: training a frozen reference model', async () => {
    const frozen = model.clone({ trainable: false });
    const e = await rejected(() => new Trainer(frozen, { totalSteps: 2 }));
    expect(e.message).toContain('clone it with { trainable: true }');
    frozen.dispose();
  });

  it('15: a rollout longer than the context', async () => {
    const e = await rejected(() => rollout(model, corridor, { episodes: 1, rng: new Rng(1), maxLength: 64 }));
    expect([e.code, e.field]).toEqual(['SEQUENCE_TOO_LONG', 'maxLength']);
  });

  it('16: a world returning a NaN reward', async () => {
    const bad = { ...corridor, step: (s: { pos: number; steps: number }, a: number) => ({ ...corridor.step(s, a), reward: Number.NaN }) };
    const e = await rejected(() => rollout(model, bad, { episodes: 2, rng: new Rng(1) }));
    expect([e.code, e.position]).toEqual(['ENV_ERROR', [0, 3]]);
    expect(e.message).toContain('world "corridor" returned reward NaN');
  });

  it('17: a bad plugin option, named with the plugin', async () => {
    const factory = defineRegime({ name: 'demo', options: z.object({ beta: z.number().positive() }).strict(), create: () => ({ fit: async () => ({ steps: 0, metrics: {} }) }) });
    const e = await rejected(() => factory({ beta: 0 }));
    expect([e.code, e.plugin, e.field]).toEqual(['OPTION_INVALID', 'demo', 'beta']);
    expect(e.message).toMatch(/^\[demo\] options\.beta: /);
  });

  it('18: a plugin hook that throws is wrapped with plugin and hook, keeping the cause', async () => {
    const cause = new Error('boom');
    const e = await rejected(() => callPluginHook({ name: 'p' }, 'fit', () => Promise.reject(cause)));
    expect([e.code, e.plugin, e.hook, e.cause]).toEqual(['PLUGIN_FAILED', 'p', 'fit', cause]);
    expect(e.message).toBe('[plugin p, hook fit] boom');
    expect(toZooError('x').code).toBe('INTERNAL');
  });

  it('19: a plugin error is wrapped once and says plugin, hook and step', async () => {
    // The plugin named itself and the step in its own message: neither is repeated.
    const own = new ZooError('NON_FINITE', '[p] step 3: the reward of episode 2 is NaN', { plugin: 'p', step: 3, field: 'reward' });
    const e = await rejected(() => callPluginHook({ name: 'p' }, 'fit', () => Promise.reject(own)));
    expect([e.code, e.plugin, e.hook, e.step, e.field, e.cause]).toEqual(['NON_FINITE', 'p', 'fit', 3, 'reward', own]);
    expect(e.message).toBe('[plugin p, hook fit, step 3] the reward of episode 2 is NaN');
    // A loss that throws a plain Error at step 2 of a regime's training: the loop adds the step.
    const policy = model.clone();
    const base = model.clone({ trainable: false });
    const regime = defineRegime({
      name: 'demo-loss',
      options: z.object({}).strict(),
      create: () => ({
        fit: (ctx) =>
          fitWithLoss(ctx, {
            plugin: 'demo-loss',
            options: { steps: 5, microBatches: 1, lr: 1e-3, warmupSteps: 0, weightDecay: 0, clipNorm: 1, checkpointEvery: 0, keepLast: 1 },
            loss: (step) => {
              if (step === 2) throw new Error('boom');
              return { loss: tf.sum(ctx.policy.forward([[1, 2, 3]]).logits) as tf.Scalar };
            },
          }),
      }),
    });
    const f = await rejected(() => runFit(regime(), createFitContext({ base, policy, rng: new Rng(0) })));
    expect([f.code, f.plugin, f.hook, f.step]).toEqual(['PLUGIN_FAILED', 'demo-loss', 'fit', 2]);
    expect(f.message).toBe('[plugin demo-loss, hook fit, step 2] boom');
    [policy, base].forEach((m) => m.dispose());
  });
});
