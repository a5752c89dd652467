// Inputs that used to pass unchecked (issue 14): each must now fail at once with a coded error that says
// where and what would be right.
import { expectNoTensorLeak, rejected, thrown, tinyConfig } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { corridor, type CorridorState } from './__fixtures__/corridor.js';
import { graphAvailable } from './graph-run.js';
import { datasetReturns, fitWithLoss, padExamples, trainingOptionsSchema } from './loop.js';
import { Transformer } from './model.js';
import { tokenLogProbs } from './ops.js';
import { createFitContext, type Example } from './plugin.js';
import { collectRollouts } from './rl.js';
import { Rng } from './rng.js';
import { rollout, type Environment } from './rollout.js';
import { sampleToken } from './sampling.js';

const model = Transformer.create(tinyConfig);
afterAll(() => model.dispose());

describe('token tensors', () => {
  it('should refuse non-integer ids in a float tensor, naming the position', () => {
    const tokens = tf.tensor2d([[1, 2, 3], [4, 5.5, 6]]);
    const e = thrown(() => model.forward(tokens));
    expect([e.code, e.position]).toEqual(['TOKEN_OUT_OF_RANGE', [1, 1]]);
    expect(e.message).toContain('token 5.5 at row 1, position 1 is not an integer id');
    // Integral floats are fine and give the int32 logits.
    const ints = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const a = tf.tidy(() => model.forward(tf.tensor2d([[1, 2, 3]])).logits.dataSync());
    const b = tf.tidy(() => model.forward(ints).logits.dataSync());
    expect(Array.from(a)).toEqual(Array.from(b));
    tf.dispose([tokens, ints]);
  });

  it('should name an out-of-vocabulary id of an int32 tensor before it reaches a compiled graph', () => {
    // The compiled path used to fail with TensorFlow's own "indices[1] = 999 is not in [0, 16)"; the check
    // must hold on both paths (CI runs core's tests again with REGIME_ZOO_GRAPH=0).
    expect(graphAvailable()).toBe(tf.getBackend() === 'tensorflow' && process.env.REGIME_ZOO_GRAPH !== '0');
    const tokens = tf.tensor2d([[1, 2, 3], [4, 999, 6]], undefined, 'int32');
    const e = thrown(() => model.forward(tokens));
    expect([e.code, e.position, e.field]).toEqual(['TOKEN_OUT_OF_RANGE', [1, 1], 'tokens']);
    expect(e.message).toBe('token id 999 at row 1, position 1 is outside the vocabulary [0, 15]');
    const kv = model.newKVCache(2);
    expect(thrown(() => model.decode(tokens, kv)).code).toBe('TOKEN_OUT_OF_RANGE');
    model.disposeKVCache(kv);
    const neg = tf.tensor2d([[-1, 2]], undefined, 'int32');
    expect(thrown(() => model.forward(neg)).message).toContain('token id -1 at row 0, position 0');
    const bool = tf.tensor2d([[1, 0]], undefined, 'bool');
    expect(thrown(() => model.forward(bool)).message).toContain('got dtype bool');
    tf.dispose([tokens, neg, bool]);
  });

  it('should check a token tensor without leaking tensors', async () => {
    const tokens = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    await expectNoTensorLeak(() => tf.dispose(model.forward(tokens).logits), 'forward(tensor)');
    tokens.dispose();
  });

  it('should refuse logits and tokens of different lengths in tokenLogProbs', () => {
    const e = thrown(() =>
      tf.tidy(() => {
        const tokens = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
        return tokenLogProbs(model.forward(tf.tensor2d([[1, 2, 3]], undefined, 'int32')).logits, tokens);
      }),
    );
    expect([e.code, e.field]).toEqual(['SHAPE_MISMATCH', 'tokens']);
    expect(e.message).toContain('tokenLogProbs: logits [1,3,16] and tokens [1,4]');
  });
});

describe('hook names', () => {
  it('should refuse a hook on a point the model does not have, listing the nearest names', () => {
    const e = thrown(() => model.forward([[1, 2]], { hooks: { 'blocks.2.hook_resid_post': () => {} } }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'hooks["blocks.2.hook_resid_post"]']);
    expect(e.message).toContain('"blocks.2.hook_resid_post" is not a hook point of this model (2 layers, blocks.0 … blocks.1); nearest: "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"');
    const typo = thrown(() => model.forward([[1, 2]], { hooks: { 'blocks.0.attn.hook_patern': () => {} } }));
    expect(typo.message).toContain('nearest: "blocks.0.attn.hook_pattern"');
  });

  it('should refuse a namesFilter that names a missing hook point or selects none', () => {
    const e = thrown(() => model.runWithCache([[1, 2]], { namesFilter: ['hook_embed', 'blocks.0.hook_resid_pst'] }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'namesFilter[1]']);
    expect(e.message).toContain('nearest: "blocks.0.hook_resid_post"');
    const none = thrown(() => model.runWithCache([[1, 2]], { namesFilter: (n) => n.startsWith('blocks.7.') }));
    expect([none.code, none.field]).toEqual(['OPTION_INVALID', 'namesFilter']);
    expect(none.message).toContain("namesFilter selects none of this model's 31 hook points");
  });
});

describe('rollout and sampling options', () => {
  const rng = new Rng(1);
  it('should refuse a negative or fractional episode count instead of returning []', () => {
    const e = thrown(() => rollout(model, corridor, { episodes: -3, rng }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'episodes']);
    expect(e.message).toMatch(/^rollout options\.episodes: /);
    expect(thrown(() => rollout(model, corridor, { episodes: 1.5, rng })).field).toBe('episodes');
  });

  it('should refuse a NaN or negative temperature, an rng that is not an Rng and a pad id outside the vocabulary', () => {
    const e = thrown(() => rollout(model, corridor, { episodes: 2, rng, temperature: Number.NaN }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'temperature']);
    expect(thrown(() => rollout(model, corridor, { episodes: 2, rng, temperature: -1 })).field).toBe('temperature');
    expect(thrown(() => rollout(model, corridor, { episodes: 2, rng: { seed: 1 } as never })).message).toContain('must be a core Rng');
    const pad = thrown(() => rollout(model, corridor, { episodes: 2, rng, padId: 40 }));
    expect([pad.code, pad.message]).toEqual(['TOKEN_OUT_OF_RANGE', "rollout options.padId: id 40 is outside the model's vocabulary [0, 15]"]);
    expect(thrown(() => sampleToken([0, 1], rng, { temperature: Number.NaN })).field).toBe('temperature');
  });

  it('should refuse a batch too large for memory before rolling out anything', () => {
    let resets = 0;
    const counting = { ...corridor, reset: (r: Rng) => (resets++, corridor.reset(r)) };
    const e = thrown(() => rollout(model, counting, { episodes: 300_000_000, rng, batchSize: 300_000_000 }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'batchSize']);
    expect(e.message).toContain('more than one tensor can hold');
    expect(e.message).toContain('lower batchSize');
    expect(resets).toBe(0);
  });
});

describe('environment outputs, named by world and step', () => {
  const rng = new Rng(2);
  const env = (patch: Partial<Environment<CorridorState>>): Environment<CorridorState> => ({ ...corridor, name: 'broken', ...patch });

  it('should refuse a reset that returns no tokens', () => {
    const e = thrown(() => rollout(model, env({ reset: () => ({ state: { pos: 0, steps: 0 }, tokens: [] }) }), { episodes: 2, rng }));
    expect([e.code, e.position]).toEqual(['ENV_ERROR', [0, 0]]);
    expect(e.message).toContain('world "broken" returned no tokens from reset (episode 0); a prompt needs at least BOS');
  });

  it('should refuse an observation or a legal action outside the vocabulary', () => {
    const obs = thrown(() => rollout(model, env({ step: (s, a) => ({ ...corridor.step(s, a), observation: [7, 99] }) }), { episodes: 2, rng }));
    expect([obs.code, obs.field, obs.position]).toEqual(['ENV_ERROR', 'observation', [0, 5]]);
    expect(obs.message).toContain('world "broken" returned observation with token 99 at index 1 (episode 0, position 5); tokens must be ids in [0, 15]');
    const legal = thrown(() => rollout(model, env({ legalActions: () => [4, 5.5] }), { episodes: 2, rng }));
    expect([legal.code, legal.field, legal.position]).toEqual(['ENV_ERROR', 'legal actions', [0, 3]]);
    expect(legal.message).toContain('world "broken" returned legal actions with token 5.5 at index 1');
    const none = thrown(() => rollout(model, env({ legalActions: () => [] }), { episodes: 2, rng }));
    expect(none.message).toContain('world "broken" offers no legal action at position 3 of episode 0 but did not end the episode');
  });

  it('should name the type of a reward that is not a number', () => {
    const e = thrown(() => rollout(model, env({ step: (s, a) => ({ ...corridor.step(s, a), reward: '5' as never }) }), { episodes: 1, rng }));
    expect([e.code, e.field]).toEqual(['ENV_ERROR', 'reward']);
    expect(e.message).toContain('world "broken" returned reward the string "5" for action');
  });
});

describe('reward values', () => {
  it('should say a reward function returned a string, not report it as 5', async () => {
    const policy = model.clone();
    const e = await rejected(() => collectRollouts({ policy, base: model, env: corridor, episodes: 2, rng: new Rng(3), reward: () => '5' as never, plugin: 'p', step: 4 }));
    expect([e.code, e.step, e.position]).toEqual(['BAD_RETURN', 4, [0]]);
    expect(e.message).toBe('[p] step 4: the reward of episode 0 is the string "5", not a number; a reward function returns a finite number');
    const ctx = createFitContext({ base: model, policy, rng: new Rng(1), dataset: [{ tokens: [1, 2], return: 1 }], reward: () => '5' as never });
    const d = await rejected(() => datasetReturns(ctx, 'reward', 'q'));
    expect(d.message).toBe('[q] the reward function returned dataset[0] the string "5", not a number; returns must be finite numbers');
    policy.dispose();
  });
});

describe('sizes', () => {
  it('should refuse a model config whose weights cannot be held, naming the field, before allocating', () => {
    const before = tf.memory().numTensors;
    const e = thrown(() => Transformer.create({ ...tinyConfig, dModel: 2 ** 17, nHeads: 1 }));
    expect([e.code, e.field]).toEqual(['CONFIG_INVALID', 'dModel']);
    expect(e.message).toContain('model config.dModel: the largest weight matrix (dModel 131072, mlpRatio 4, vocabSize 16) would have 6.87e+10 elements');
    const deep = thrown(() => Transformer.create({ ...tinyConfig, dModel: 4096, nHeads: 8, nLayers: 2000 }));
    expect([deep.code, deep.field]).toEqual(['CONFIG_INVALID', 'nLayers']);
    expect(deep.message).toMatch(/this needs about [\d.]+ GB for 4\.03e\+11 parameters with their gradients and AdamW moments, more than this machine's/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('should refuse a training batch whose logits cannot be held before the first step', async () => {
    const policy = model.clone();
    const ctx = createFitContext({ base: model, policy, rng: new Rng(1), dataset: [{ tokens: [1, 2], return: 1 }] });
    let steps = 0;
    const options = trainingOptionsSchema.parse({ batchSize: 50_000_000, steps: 1 });
    const e = await rejected(() => fitWithLoss(ctx, { plugin: 'big', options, loss: () => (steps++, { loss: tf.scalar(0) }) }));
    expect([e.code, e.field]).toEqual(['OPTION_INVALID', 'batchSize']);
    expect(e.message).toContain('[big] options.batchSize: logits of a micro-batch [50000000, ≤ 32, 16] and their gradients would have');
    expect(e.message).toContain('lower batchSize or raise microBatches');
    expect(steps).toBe(0);
    policy.dispose();
  });

  it('should pad 200,000 examples (the old spread overflowed the call stack)', () => {
    const examples: Example[] = Array.from({ length: 200_000 }, (_, i) => ({ tokens: [1, 2 + (i % 3)] }));
    const { tokens, targets } = padExamples(examples);
    expect(tokens.shape).toEqual([200_000, 2]);
    expect(targets.shape).toEqual([200_000, 1]);
    tf.dispose([tokens, targets]);
  });
});
