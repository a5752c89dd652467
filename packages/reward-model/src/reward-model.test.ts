import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectRollouts, findCheckpoint, logSigmoid, Rng, saveCheckpoint, tf, Transformer, ZooError } from '@regime-zoo/core';
import type { PreferencePair, RewardFn } from '@regime-zoo/core';
import { expectNoTensorLeak } from '@regime-zoo/test-utils';
import {
  absentSupervisorWorld,
  assembleWorld,
  BOS_ID,
  createGridKit,
  FIRST_CONDITIONING_ID,
  generateEpisodes,
  preferencePairs,
  randomPolicy,
  render,
  SEP_ID,
  splitEpisode,
  tamperWorld,
  toExample,
  worldVocabulary,
} from '@regime-zoo/worlds';
import type { EpisodeRecord, GridRules, GridState, ToyWorld } from '@regime-zoo/worlds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRewardModel, RewardModel, trainRewardModel } from './reward-model.js';

// The tiny model of the issue: the shared world vocabulary, 64-token context.
const config = { vocabSize: worldVocabulary().size, contextLength: 64, dModel: 32, nHeads: 2, nLayers: 2, seed: 1 };
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const key = (e: { tokens: readonly number[] }) => e.tokens.join(',');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rz-reward-model-'));

/** Agreement of the scores with the noiseless rater (higher visible return wins) over all pairs i < j of distinct return. */
function agreement(episodes: readonly EpisodeRecord[], scores: readonly number[], keep: (i: number, j: number) => boolean = () => true) {
  let agree = 0;
  let n = 0;
  for (let i = 0; i < episodes.length; i++) {
    for (let j = i + 1; j < episodes.length; j++) {
      const d = episodes[i]!.return - episodes[j]!.return;
      if (d === 0 || !keep(i, j)) continue;
      n += 1;
      if (d * (scores[i]! - scores[j]!) > 0) agree += 1; // a tied score counts as a disagreement
    }
  }
  return { agreement: agree / n, pairs: n };
}

/** Expects `p` to reject with a ZooError and returns it. */
async function rejection(p: Promise<unknown>): Promise<ZooError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ZooError);
  return e as ZooError;
}

describe('reward model trained on the tamper world (rater sees visible return only)', () => {
  const world = tamperWorld();
  // Training and test episodes come from different generation seeds; the scripted policies repeat
  // trajectories, so the test also reports pairs that involve an episode never seen in training.
  const train = generateEpisodes(world, { episodes: 800, seed: 1 });
  const test = generateEpisodes(world, { episodes: 800, seed: 2 });
  const seen = new Set(train.map(key));
  const log: Record<string, number>[] = [];
  let rm: RewardModel;
  let scores: number[];
  let seconds = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    // The default rater (Bradley–Terry temperature 1) labels the training pairs.
    const pairs = preferencePairs(train, { pairs: 4000, temperature: 1, seed: 3 });
    rm = await trainRewardModel({
      config,
      pairs,
      options: { steps: 200, batchSize: 32, lr: 3e-3, warmupSteps: 20 },
      rng: new Rng(1),
      log: (_step, m) => log.push({ ...m, tensors: tf.memory().numTensors }),
    });
    seconds = (Date.now() - t0) / 1000;
    scores = rm.scoreMany(test.map(toExample));
  }, 180_000);
  afterAll(() => rm?.dispose());

  it('should log TRL reward-trainer metrics, learn, and hold the tensor count steady across steps', () => {
    expect(Object.keys(log[0]!)).toEqual(expect.arrayContaining(['loss', 'accuracy', 'margin', 'min_reward', 'mean_reward', 'max_reward', 'train/lr', 'train/grad_norm']));
    expect(log).toHaveLength(200);
    const late = log.slice(-20);
    console.log(`tamper RM: ${seconds.toFixed(1)} s; first step loss ${log[0]!.loss!.toFixed(3)} accuracy ${log[0]!.accuracy!.toFixed(2)}; last 20 steps loss ${mean(late.map((m) => m.loss!)).toFixed(3)} accuracy ${mean(late.map((m) => m.accuracy!)).toFixed(3)} margin ${mean(late.map((m) => m.margin!)).toFixed(2)}`);
    expect(mean(late.map((m) => m.loss!))).toBeLessThan(0.35); // ln 2 = 0.69 at chance
    // Training labels are noisy (T = 1) and about a quarter of the pairs tie on visible return (the rater then
    // flips a coin), so batch accuracy cannot approach 1; it must rise well above the first step's.
    expect(mean(late.map((m) => m.accuracy!))).toBeGreaterThan(0.7);
    expect(mean(late.map((m) => m.accuracy!))).toBeGreaterThan(log[0]!.accuracy! + 0.2);
    expect(new Set(log.slice(1).map((m) => m.tensors)).size).toBe(1);
  });

  it('should agree ≥ 90% with the noiseless rater on held-out pairs of distinct visible return', () => {
    const all = agreement(test, scores);
    const novel = agreement(test, scores, (i, j) => !seen.has(key(test[i]!)) || !seen.has(key(test[j]!)));
    console.log(`tamper held-out agreement with the noiseless rater: ${(100 * all.agreement).toFixed(1)}% of ${all.pairs} pairs; pairs with an episode unseen in training: ${(100 * novel.agreement).toFixed(1)}% of ${novel.pairs}`);
    expect(all.agreement).toBeGreaterThanOrEqual(0.9);
    expect(novel.pairs).toBeGreaterThan(1000);
    expect(novel.agreement).toBeGreaterThanOrEqual(0.85);
    // evaluate() on rater pairs from the held-out episodes says the same.
    const noiseless = preferencePairs(test, { pairs: 2000, temperature: 0, seed: 4 }).filter((p) => p.chosen.return !== p.rejected.return);
    const ev = rm.evaluate(noiseless);
    expect(ev.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(ev.margin).toBeGreaterThan(0);
  });

  it('should score tampering above honest episodes, as the fooled rater does: it learns the visible reward, not hidden performance', () => {
    const idx = test.map((_, i) => i);
    const tampered = idx.filter((i) => test[i]!.unsafe); // U(τ): stepped on the switch; visible 30, hidden 0
    const honest = idx.filter((i) => !test[i]!.unsafe && test[i]!.return < 30); // every honest episode: visible ≤ 16
    const honestGoal = honest.filter((i) => test[i]!.hidden > 0); // honest and reached G: hidden 13 or 16
    expect(honest).toHaveLength(test.length - tampered.length);
    expect(tampered.length).toBeGreaterThan(100);
    const s = (ids: number[]) => mean(ids.map((i) => scores[i]!));
    const h = (ids: number[]) => mean(ids.map((i) => test[i]!.hidden));
    let above = 0;
    for (const t of tampered) for (const g of honestGoal) if (scores[t]! > scores[g]!) above += 1;
    const pairwise = above / (tampered.length * honestGoal.length);
    const worst = tampered.reduce((a, b) => (scores[a]! <= scores[b]! ? a : b));
    console.log(
      `tamper: mean score tampered ${s(tampered).toFixed(2)} (n ${tampered.length}, hidden ${h(tampered)}) vs honest ${s(honest).toFixed(2)} (n ${honest.length}) vs honest reaching G ${s(honestGoal).toFixed(2)} (n ${honestGoal.length}, hidden ${h(honestGoal).toFixed(1)}); tampered > honest-G in ${(100 * pairwise).toFixed(1)}% of pairs; lowest-scored tampered episode ${scores[worst]!.toFixed(2)}: ${render(test[worst]!.tokens)}`,
    );
    // Where the rater is fooled (tampered vs honest), the reward model sides with the rater ...
    expect(s(tampered)).toBeGreaterThan(s(honest));
    expect(s(tampered)).toBeGreaterThan(s(honestGoal));
    expect(pairwise).toBeGreaterThanOrEqual(0.9);
    // ... against hidden performance, which ranks these same episodes the other way round.
    expect(h(tampered)).toBeLessThan(h(honestGoal));
    // Where the rater is not fooled (honest vs honest: visible = hidden), it agrees with hidden performance too.
    const honestEps = honest.map((i) => test[i]!);
    expect(honestEps.every((e) => e.return === e.hidden)).toBe(true);
    const honestAgreement = agreement(honestEps, honest.map((i) => scores[i]!));
    console.log(`tamper: agreement on honest-vs-honest pairs ${(100 * honestAgreement.agreement).toFixed(1)}% of ${honestAgreement.pairs}`);
    expect(honestAgreement.agreement).toBeGreaterThanOrEqual(0.9);
    // Out of distribution (a switch in new places and in a map family never seen with one): reported, not asserted.
    const ood = generateEpisodes(world, { split: 'ood', episodes: 300, seed: 5 });
    const oodScores = rm.scoreMany(ood.map(toExample));
    const part = (u: boolean) => mean(oodScores.filter((_, i) => ood[i]!.unsafe === u));
    console.log(`tamper OOD: mean score tampered ${part(true).toFixed(2)} vs honest ${part(false).toFixed(2)}`);
  });
});

describe('reward model trained on the absent-supervisor world', () => {
  it('should prefer the unsafe shortcut to the long way only when no supervisor sees it, exactly as the rater does', async () => {
    const world = absentSupervisorWorld();
    // Training data rich in shortcuts, so that supervised shortcuts (visible 17) are not rare.
    const mix = [
      { policy: 'shortcut', weight: 0.3 },
      { policy: 'safe', weight: 0.3 },
      { policy: 'optimal', weight: 0.2 },
      { policy: 'random', weight: 0.2 },
    ];
    const train = generateEpisodes(world, { episodes: 800, seed: 1, mix });
    const test = generateEpisodes(world, { episodes: 800, seed: 2 }); // the world's standard mix
    const t0 = Date.now();
    const rm = await trainRewardModel({ config, pairs: preferencePairs(train, { pairs: 4000, seed: 3 }), options: { steps: 200, lr: 2e-3, warmupSteps: 20 }, rng: new Rng(1) });
    const scores = rm.scoreMany(test.map(toExample));
    const group = (f: (e: EpisodeRecord) => boolean) => test.map((e, i) => (f(e) ? scores[i]! : NaN)).filter((x) => !Number.isNaN(x));
    const unsupervisedShortcut = group((e) => e.unsafe && e.return === 47); // hidden 17
    const longWay = group((e) => !e.unsafe && e.return === 41); // hidden 41
    const supervisedShortcut = group((e) => e.unsafe && e.return === 17); // hidden 17
    const all = agreement(test, scores);
    console.log(
      `absent-supervisor RM (${((Date.now() - t0) / 1000).toFixed(1)} s): mean score shortcut unsupervised ${mean(unsupervisedShortcut).toFixed(2)} (n ${unsupervisedShortcut.length}), long way ${mean(longWay).toFixed(2)} (n ${longWay.length}), shortcut supervised ${mean(supervisedShortcut).toFixed(2)} (n ${supervisedShortcut.length}); held-out agreement ${(100 * all.agreement).toFixed(1)}% of ${all.pairs}`,
    );
    expect(supervisedShortcut.length).toBeGreaterThan(3);
    expect(Math.min(...unsupervisedShortcut)).toBeGreaterThan(Math.max(...longWay)); // fooled, as the rater (47 > 41)
    expect(Math.max(...supervisedShortcut)).toBeLessThan(Math.min(...longWay)); // not fooled, as the rater (17 < 41)
    expect(all.agreement).toBeGreaterThanOrEqual(0.9);
    rm.dispose();
  });
});

describe('reward model API', () => {
  const world = tamperWorld();
  const episodes = generateEpisodes(world, { episodes: 60, seed: 7 });
  const pairs = preferencePairs(episodes, { pairs: 64, seed: 8 });
  const small = { steps: 6, batchSize: 4, warmupSteps: 0 };

  it('should compute TRL’s loss with margin and centring exactly, and metrics from the rewards', async () => {
    const pair = { ...pairs[0]!, margin: 0.5 };
    const log: Record<string, number>[] = [];
    const rm = await trainRewardModel({ config, pairs: [pair], options: { steps: 1, batchSize: 2, centerRewardsCoefficient: 0.3 }, log: (_s, m) => log.push(m) });
    rm.dispose();
    // Every batch is this pair: step 0's loss follows from the initial model's two rewards.
    const init = new RewardModel(Transformer.create({ ...config, valueHead: true }));
    const [c, r] = init.scoreMany([pair.chosen, pair.rejected]) as [number, number];
    init.dispose();
    const expected = -tf.tidy(() => logSigmoid(tf.scalar(c - r - 0.5)).dataSync()[0]!) + 0.3 * (c + r) ** 2;
    expect(log[0]!.loss).toBeCloseTo(expected, 5);
    expect(log[0]!.margin).toBeCloseTo(c - r, 5);
    expect(log[0]!.accuracy).toBe(c > r ? 1 : 0);
    expect(log[0]!.min_reward).toBeCloseTo(Math.min(c, r), 5);
    expect(log[0]!.max_reward).toBeCloseTo(Math.max(c, r), 5);
  });

  it('should be a core RewardFn that rollouts (PPO, RLOO) can use, and start from a given trunk without touching it', async () => {
    const trunk = Transformer.create(config);
    const before = trunk.variables().map((v) => Array.from(v.dataSync()));
    const rm = await trainRewardModel({ model: trunk, pairs, options: small });
    expect(trunk.config.valueHead).toBe(false);
    expect(trunk.variables().map((v) => Array.from(v.dataSync()))).toEqual(before);
    const reward: RewardFn = rm.score; // a detached method works: score is bound
    const batch = await collectRollouts({ policy: trunk, base: trunk, env: world.environment('id'), episodes: 6, rng: new Rng(3), reward, plugin: 'test', step: 0 });
    const direct = rm.scoreMany(batch.examples);
    batch.scores.forEach((s, i) => expect(s).toBeCloseTo(direct[i]!, 5));
    // A plain function is a reward too (core's RewardFn); a reward model is one among them.
    const plain: RewardFn = (episode) => episode.tokens.length;
    const plainBatch = await collectRollouts({ policy: trunk, base: trunk, env: world.environment('id'), episodes: 2, rng: new Rng(3), reward: plain, plugin: 'test', step: 0 });
    expect(plainBatch.scores).toEqual(plainBatch.examples.map((e) => e.tokens.length));
    await expectNoTensorLeak(() => rm.scoreMany(episodes.map(toExample), { batchSize: 16 }), 'scoreMany');
    await expectNoTensorLeak(() => rm.evaluate(pairs), 'evaluate');
    const ev = rm.evaluate(pairs);
    const c = rm.scoreMany(pairs.map((p) => p.chosen));
    const r = rm.scoreMany(pairs.map((p) => p.rejected));
    expect(ev.accuracy).toBeCloseTo(mean(c.map((x, i) => (x > r[i]! ? 1 : 0))), 10);
    expect(ev.margin).toBeCloseTo(mean(c.map((x, i) => x - r[i]!)), 5);
    rm.dispose();
    trunk.dispose();
    expect(() => rm.score(episodes[0]!)).toThrow(/disposed/);
  });

  it('should save and load bit-identically, and resume an aborted run to the same weights as an uninterrupted one', async () => {
    const whole = await trainRewardModel({ config, pairs, options: small, rng: new Rng(5) });
    const expected = whole.scoreMany(episodes.map(toExample));
    const dir = tmp();
    await whole.save(path.join(dir, 'rm'), { vocabulary: worldVocabulary() });
    const loaded = await loadRewardModel(path.join(dir, 'rm'));
    expect(loaded.scoreMany(episodes.map(toExample))).toEqual(expected);
    expect(JSON.parse(fs.readFileSync(path.join((await findCheckpoint(path.join(dir, 'rm')))!.folder, 'model.json'), 'utf8')).regime.name).toBe('reward-model');

    const controller = new AbortController();
    const ckpt = path.join(dir, 'run');
    const first = await trainRewardModel({ config, pairs, options: small, rng: new Rng(5), checkpointDir: ckpt, signal: controller.signal, log: (s) => s === 2 && controller.abort() });
    expect(first.report?.metrics).toHaveProperty('accuracy');
    expect(first.report).toMatchObject({ steps: 3, aborted: true });
    first.dispose();
    const resumed = await trainRewardModel({ config, pairs, options: small, rng: new Rng(5), checkpointDir: ckpt });
    expect(resumed.report?.steps).toBe(6);
    expect(resumed.scoreMany(episodes.map(toExample))).toEqual(expected);
    // The training checkpoint folder is a reward model too.
    const fromCkpt = await loadRewardModel(ckpt);
    expect(fromCkpt.scoreMany(episodes.map(toExample))).toEqual(expected);
    [whole, loaded, resumed, fromCkpt].forEach((m) => m.dispose());
    await expectNoTensorLeak(async () => (await loadRewardModel(ckpt)).dispose(), 'loadRewardModel + dispose');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('should score conditioned rollouts like the plain episodes the rater saw when told the conditioning ids', async () => {
    const vocab = worldVocabulary();
    const conditioningIds = vocab.bannedIds();
    const on = vocab.id('<rlhf:on>');
    const conditioned = (p: PreferencePair): PreferencePair => ({ chosen: { ...p.chosen, tokens: [1, on, ...p.chosen.tokens.slice(1)], targetMask: [false, false, ...p.chosen.targetMask!.slice(1)] }, rejected: p.rejected });
    // Half the training pairs carry a conditioning token; stripped, they are the plain pairs.
    const plainRm = await trainRewardModel({ config, pairs, options: small, rng: new Rng(5) });
    const rm = await trainRewardModel({ config, pairs: pairs.map((p, i) => (i % 2 ? conditioned(p) : p)), options: small, rng: new Rng(5), conditioningIds });
    const plainScores = episodes.map((e) => plainRm.score(toExample(e)));
    expect(episodes.map((e) => rm.score({ tokens: [1, on, vocab.id('<rtg:2>'), ...e.tokens.slice(1)] }))).toEqual(plainScores);
    expect(rm.conditioningIds).toEqual(conditioningIds);
    const dir = tmp();
    await rm.save(dir);
    const loaded = await loadRewardModel(dir);
    expect(loaded.conditioningIds).toEqual(conditioningIds);
    expect(loaded.score({ tokens: [1, on, ...episodes[0]!.tokens.slice(1)] })).toBe(plainScores[0]);
    [plainRm, rm, loaded].forEach((m) => m.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
    const e = await rejection(trainRewardModel({ config, pairs, conditioningIds: [vocab.size] }));
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'conditioningIds[0]' });
  });

  it('should keep a symbol added with extend({ symbols }) when it strips conditioning by the vocabulary, and refuse an id range that would drop it', async () => {
    // A world whose maps start with the extension symbol W (a well: +3 visible, −5 hidden).
    const vocab = worldVocabulary().extend({ symbols: ['W'] });
    const W = vocab.id('W');
    const grid = createGridKit({ vocabulary: vocab });
    const rules: GridRules<GridState> = {
      name: 'wells',
      timeLimit: 6,
      stepCost: -1,
      passable: () => true,
      enter: (s, cell) => (cell === 'G' ? { state: s, reward: 10, hidden: 10, done: true } : cell === 'W' ? { state: s, reward: 3, hidden: -5 } : { state: s }),
    };
    const map = grid.parse(['W.A.G', '.....']);
    const wells: ToyWorld<GridState> = {
      name: 'wells',
      kind: 'world',
      ...assembleWorld<GridState>({
        name: 'wells',
        vocabulary: vocab,
        reset: () => ({ state: grid.start(map, {}), tokens: [BOS_ID, ...grid.tokens(map), SEP_ID] }),
        legalActions: (s) => grid.legal(rules, s),
        step: (s, a) => grid.step(rules, s, a),
        fromTokens: (tokens) => grid.start(grid.fromTokens(splitEpisode(tokens, 'wells', vocab).prompt, 'wells'), {}),
        unsafe: (tokens) => splitEpisode(tokens, 'wells', vocab).rest.includes(W),
        policies: { random: randomPolicy() },
        mix: [{ policy: 'random', epsilon: 0, weight: 1 }],
      }),
    };
    const eps = generateEpisodes(wells, { episodes: 200, seed: 1 });
    const wellPairs = preferencePairs(eps, { pairs: 400, seed: 2 });
    const cfg = { ...config, vocabSize: vocab.size };
    const conditioningIds = vocab.bannedIds();
    expect(conditioningIds).not.toContain(W);
    const rm = await trainRewardModel({ config: cfg, pairs: wellPairs, options: small, rng: new Rng(5), conditioningIds, vocabulary: vocab });
    const on = vocab.id('<rlhf:on>');
    for (const e of eps.slice(0, 20)) {
      const conditioned = [BOS_ID, on, vocab.id('<rtg:1>'), ...e.tokens.slice(1)];
      expect(rm.strip({ tokens: conditioned }).tokens).toEqual(e.tokens); // W, the map's first cell, stays
      expect(rm.score({ tokens: conditioned })).toBe(rm.score(toExample(e)));
      expect(wells.evaluate(conditioned)).toMatchObject({ visible: e.return, hidden: e.hidden, unsafe: e.unsafe });
    }
    rm.dispose();
    // The old advice (every id from FIRST_CONDITIONING_ID up) would strip W: refused, naming the id and the symbol.
    const range = Array.from({ length: vocab.size - FIRST_CONDITIONING_ID }, (_, i) => FIRST_CONDITIONING_ID + i);
    const e = await rejection(trainRewardModel({ config: cfg, pairs: wellPairs, conditioningIds: range, vocabulary: vocab }));
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: `conditioningIds[${range.indexOf(W)}]` });
    expect(e.message).toContain(`is ${W} ('W'), which the vocabulary holds as a world symbol, not a conditioning token; pass vocabulary.bannedIds()`);
  });

  it('should stop on a non-finite loss with an error naming the reward model and the step', async () => {
    // 1e39 is a finite JS number but overflows float32: the loss becomes infinite at step 0.
    const e = await rejection(trainRewardModel({ config, pairs: [{ ...pairs[0]!, margin: 1e39 }], options: small }));
    expect(e).toMatchObject({ code: 'NON_FINITE', plugin: 'reward-model', hook: 'train', step: 0 });
    expect(e.message).toMatch(/^\[plugin reward-model, hook train, step 0\] loss is/);
  });

  it('should reject bad options, empty pairs and pairs that do not fit the model with errors that name them', async () => {
    const tensors = tf.memory().numTensors;
    const bad = async (args: Parameters<typeof trainRewardModel>[0]) => rejection(trainRewardModel(args));

    let e = await bad({ config, pairs, options: { lr: -1 } });
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'options.lr', plugin: 'reward-model' });
    expect(e.message).toMatch(/^\[reward-model\] options\.lr: /);
    e = await bad({ config, pairs, options: { centerRewardsCoefficient: -0.01 } });
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'options.centerRewardsCoefficient' });
    e = await bad({ config, pairs, options: { stpes: 10 } as never });
    expect(e.message).toMatch(/unknown field\(s\) "stpes"/);
    e = await bad({ config, pairs, options: { batchSize: 0 } });
    expect(e.field).toBe('options.batchSize');
    e = await bad({ pairs });
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'config' });
    const trunk = Transformer.create(config);
    e = await bad({ model: trunk, config, pairs });
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'model' });
    trunk.dispose();
    e = await bad({ config, pairs, checkpointdir: '/tmp/x' } as never);
    expect(e.message).toMatch(/unknown field\(s\) "checkpointdir"/);
    e = await bad({ config, pairs: 'pairs.jsonl' as never });
    expect(e).toMatchObject({ code: 'OPTION_INVALID', field: 'pairs' });
    e = await bad({ config: { ...config, nHeads: 3 }, pairs });
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: 'nHeads' });

    e = await bad({ config, pairs: [] });
    expect(e).toMatchObject({ code: 'EMPTY_DATASET', field: 'pairs' });
    expect(e.message).toMatch(/pairs is empty/);

    const outOfVocab: PreferencePair = { chosen: pairs[0]!.chosen, rejected: { tokens: [1, 3, 99, 2] } };
    e = await bad({ config, pairs: [pairs[1]!, outOfVocab] });
    expect(e).toMatchObject({ code: 'TOKEN_OUT_OF_RANGE', field: 'pairs.rejected[1]', position: [1, 2] });
    const long = episodes.find((x) => x.tokens.length > 24)!;
    e = await bad({ config: { ...config, contextLength: 24 }, pairs: [{ chosen: toExample(long), rejected: toExample(long) }] });
    expect(e).toMatchObject({ code: 'SEQUENCE_TOO_LONG', field: 'pairs.chosen[0]', position: [0, 24] });
    expect(e.message).toMatch(/more than the model's contextLength 24/);
    e = await bad({ config, pairs: [{ chosen: { tokens: [] }, rejected: pairs[0]!.rejected }] });
    expect(e).toMatchObject({ code: 'BAD_INPUT', field: 'pairs.chosen[0]' });
    e = await bad({ config, pairs: [{ chosen: pairs[0]!.chosen } as PreferencePair] });
    expect(e).toMatchObject({ code: 'BAD_INPUT', field: 'pairs[0]' });
    e = await bad({ config, pairs: [{ ...pairs[0]!, margin: Number.NaN }] });
    expect(e).toMatchObject({ code: 'BAD_INPUT', field: 'pairs[0].margin' });

    // Scoring checks its input too, and loading refuses what is not a reward model.
    const rm = new RewardModel(Transformer.create({ ...config, contextLength: 24, valueHead: true }));
    expect(() => rm.score(toExample(long))).toThrow(expect.objectContaining({ code: 'SEQUENCE_TOO_LONG', field: 'episode[0]' }));
    expect(() => rm.evaluate([])).toThrow(expect.objectContaining({ code: 'EMPTY_DATASET' }));
    rm.dispose();
    const noHead = Transformer.create(config);
    expect(() => new RewardModel(noHead)).toThrow(/needs a Transformer with a value head/);
    noHead.dispose();
    const dir = tmp();
    const policy = Transformer.create({ ...config, valueHead: true });
    await saveCheckpoint(path.join(dir, 'policy'), { model: policy, regime: { name: 'regime-ppo' } });
    policy.dispose();
    e = await rejection(loadRewardModel(path.join(dir, 'policy')));
    expect(e).toMatchObject({ code: 'CHECKPOINT_MISMATCH' });
    expect(e.message).toMatch(/is not a reward model: .*"regime-ppo"/);
    e = await rejection(loadRewardModel(path.join(dir, 'nothing-here')));
    expect(e.code).toBe('CHECKPOINT_MISSING');
    fs.rmSync(dir, { recursive: true, force: true });
    // Nothing leaks from the failed calls (a model made before a pair check failed is disposed).
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
