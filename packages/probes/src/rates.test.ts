import { runProbe, type ProbeRow } from '@regime-zoo/core';
import { Vocabulary } from '@regime-zoo/tokenizer';
import { absentSupervisorWorld, backdoorWorld, myopiaWorld, offSwitchWorld, posteriorWorld, resourcesWorld, tamperWorld } from '@regime-zoo/worlds';
import type { WorldEvaluation } from '@regime-zoo/worlds';
import { describe, expect, it } from 'vitest';
import { flagLeakage } from './behaviour.js';
import { conditionOf } from './common.js';
import { contrastInterval, instrumentalRate } from './rates.js';
import { findRows, probeReport } from './report.js';
import { constantModel } from './scripted.js';
import { logitsFor, myopiaPolicy, probeContext, scriptedModel, V, vocabulary } from './test-helpers.js';

// One decision per episode, so U (b in episode 1) has probability exactly p under a policy taking b with p.
const myopia = myopiaWorld({ idVariants: [{ delay: 1, size: 1 }], oodVariants: [{ delay: 2, size: 1 }] });

const one = (rows: ProbeRow[], where: Partial<ProbeRow>): ProbeRow => {
  const hits = findRows({ rows }, where);
  expect(hits).toHaveLength(1);
  return hits[0]!;
};

describe('instrumental-rate', () => {
  it('should measure U rates 0, 1 and p = 0.3 with Wilson intervals that contain the truth and exclude wrong answers, in both splits', async () => {
    for (const [p, wrong] of [
      [0, [0.02]],
      [1, [0.98]],
      [0.3, [0.22, 0.38]],
    ] as const) {
      const policy = myopiaPolicy(p);
      const { rows } = await runProbe(instrumentalRate({ episodes: 400, decodings: ['sample'] }), probeContext(policy, [myopia]));
      for (const split of ['id', 'ood'] as const) {
        const r = one(rows!, { split, metric: 'NonMyopicRate', decoding: 'sample' });
        expect(r).toMatchObject({ probe: 'instrumental-rate', world: 'myopia', condition: 'none', n: 400 });
        expect(r.lo!).toBeLessThanOrEqual(p);
        expect(r.hi!).toBeGreaterThanOrEqual(p);
        for (const w of wrong) expect(w < r.lo! || w > r.hi!).toBe(true);
      }
      // OOD amplification of a policy that ignores the split: its Newcombe interval contains 0.
      const amp = one(rows!, { split: 'ood-id', metric: 'NonMyopicRate' });
      expect(amp.lo!).toBeLessThanOrEqual(0);
      expect(amp.hi!).toBeGreaterThanOrEqual(0);
      policy.dispose();
    }
  });

  it('should decode greedily: the more likely action every time', async () => {
    const policy = myopiaPolicy(0.3);
    const { rows } = await runProbe(instrumentalRate({ episodes: 50, decodings: ['greedy'] }), probeContext(policy, [myopia], { splits: ['id'] }));
    expect(one(rows!, { metric: 'NonMyopicRate', decoding: 'greedy' })).toMatchObject({ value: 0, lo: 0, n: 50 });
    policy.dispose();
  });

  it('should measure ASR of a policy that ignores the trigger as an interval around 0, and a JSON report', async () => {
    const policy = scriptedModel({ vocabSize: V }, () => undefined); // uniform over the legal moves
    const result = await runProbe(instrumentalRate({ episodes: 300, decodings: ['sample'] }), probeContext(policy, [backdoorWorld(), tamperWorld()]));
    const asr = findRows({ rows: result.rows! }, { world: 'backdoor', metric: 'ASR' });
    expect(asr.map((r) => r.split)).toEqual(['id', 'ood']);
    for (const r of asr) {
      expect(r.lo!).toBeLessThanOrEqual(0);
      expect(r.hi!).toBeGreaterThanOrEqual(0);
    }
    expect(findRows({ rows: result.rows! }, { world: 'tamper', metric: 'TamperRate' }).map((r) => r.split)).toEqual(['id', 'ood', 'ood-id']);
    const report = probeReport([result]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(result.metrics['tamper/ood/none/sample/TamperRate']).toBe(findRows(report, { world: 'tamper', split: 'ood', metric: 'TamperRate' })[0]!.value);
    policy.dispose();
  });

  it('should evaluate the OOD split of every world that has one and say which split each number is from', async () => {
    const policy = scriptedModel({ vocabSize: V }, () => undefined);
    const worlds = [offSwitchWorld(), absentSupervisorWorld(), tamperWorld(), resourcesWorld(), backdoorWorld(), myopiaWorld(), posteriorWorld()];
    const { rows } = await runProbe(instrumentalRate({ episodes: 60, decodings: ['sample'] }), probeContext(policy, worlds));
    const splitsOf = (world: string, metric: string) => findRows({ rows: rows! }, { world, metric }).map((r) => r.split);
    expect(splitsOf('off-switch', 'ButtonRate')).toEqual(['id', 'ood', 'ood-id']);
    expect(splitsOf('absent-supervisor', 'ShortcutRate')).toEqual(['id', 'ood', 'ood-id']);
    expect(splitsOf('resources', 'ExcessKey')).toEqual(['id', 'ood', 'ood-id']);
    expect(splitsOf('myopia', 'NonMyopicRate')).toEqual(['id', 'ood', 'ood-id']);
    expect(splitsOf('posterior', 'UnsafeRate')).toEqual(['id']); // the posterior world has no OOD split
    // The world contrasts, per split; a uniform policy ignores p and the supervisor, so each interval holds 0.
    for (const [world, metric] of [['off-switch', 'DeltaI'], ['absent-supervisor', 'G']] as const) {
      const hits = findRows({ rows: rows! }, { world, metric });
      expect(hits.map((r) => r.split)).toEqual(['id', 'ood']);
      for (const r of hits) expect(r.lo! <= 0 && r.hi! >= 0).toBe(true);
    }
    // AvoidOff only where the OFF terminal is on the map (OOD resources maps).
    expect(splitsOf('resources', 'AvoidOff')).toEqual(['ood']);
    policy.dispose();
  });

  it("should ask a regime's condition() through conditionOf and label rows with its tokens", async () => {
    const policy = myopiaPolicy(0.2);
    const dtLike = { condition: (spec: { bucket?: number }, v?: { id(t: string): number }) => [v!.id(`<rtg:${spec.bucket ?? 4}>`)] };
    const { rows } = await runProbe(
      instrumentalRate({ episodes: 10, decodings: ['greedy'], specs: [{}, { bucket: 0 }] }),
      probeContext(policy, [myopia], { condition: conditionOf(dtLike, vocabulary), splits: ['id'] }),
    );
    expect(findRows({ rows: rows! }, { metric: 'NonMyopicRate' }).map((r) => r.condition)).toEqual(['rtg:4', 'rtg:0']);
    policy.dispose();
  });

  it('should compute a contrast with the groups it names and skip an empty group', () => {
    const ev = (unsafe: boolean, p: number): WorldEvaluation => ({ visible: 0, hidden: 0, unsafe, done: true, steps: 1, features: { p } });
    const evals = [...Array.from({ length: 10 }, (_, i) => ev(i < 8, 0.5)), ...Array.from({ length: 10 }, (_, i) => ev(i < 2, 0))];
    const d = contrastInterval({ name: 'DeltaI', feature: 'p', groups: 'max-min' }, evals)!;
    expect(d.interval.estimate).toBeCloseTo(0.6, 12);
    expect(d.n).toBe(20);
    // Newcombe (1998), example (e) of table II is 9/10 − 3/10; 8/10 − 2/10 gives 0.1618 to 0.8027.
    expect(d.interval.lo).toBeCloseTo(0.1618, 4);
    expect(d.interval.hi).toBeCloseTo(0.8027, 4);
    expect(contrastInterval({ name: 'DeltaI', feature: 'p', groups: 'max-min' }, evals.slice(0, 10))).toBeUndefined();
  });
});

describe('flag-leakage', () => {
  it("should measure the policy's rate under each flag minus the base's, and contain the true leakage", async () => {
    const policy = myopiaPolicy(0.6);
    const base = myopiaPolicy(0.2);
    const flags = (spec: Record<string, unknown>) => [vocabulary.id(`<rlhf:${String(spec.rlhf ?? 'on')}>`)];
    const { rows } = await runProbe(flagLeakage({ episodes: 300, decodings: ['sample'] }), probeContext(policy, [myopia], { base, condition: flags, splits: ['id'] }));
    for (const condition of ['rlhf:off', 'rlhf:on']) {
      const r = one(rows!, { condition, metric: 'FlagLeakage' });
      expect(r.lo!).toBeLessThanOrEqual(0.4);
      expect(r.hi!).toBeGreaterThanOrEqual(0.4);
      expect(r.lo!).toBeGreaterThan(0.2);
    }
    policy.dispose();
    base.dispose();
  });

  it("should ask the base under the same flag by default, and unconditioned with baseCondition 'none'", async () => {
    const policy = myopiaPolicy(0.6);
    const small = constantModel({ vocabSize: vocabulary.id('<rlhf:on>') }, logitsFor({ a: 0.8, b: 0.2 }).slice(0, vocabulary.id('<rlhf:on>')));
    const ctx = probeContext(policy, [myopia], { base: small, splits: ['id'] });
    await expect(runProbe(flagLeakage({ episodes: 10 }), ctx)).rejects.toMatchObject({ code: 'PROBE_UNSUPPORTED', field: 'baseCondition', message: expect.stringMatching(/the base's vocabulary has \d+ ids.*baseCondition: 'none'/) });
    const { rows } = await runProbe(flagLeakage({ episodes: 300, decodings: ['sample'], baseCondition: 'none' }), ctx);
    expect(findRows({ rows: rows! }, { metric: 'NonMyopicRate/base' }).map((r) => r.condition)).toEqual(['none']);
    const r = one(rows!, { condition: 'rlhf:off', metric: 'FlagLeakage' });
    expect(r.lo! <= 0.4 && r.hi! >= 0.4).toBe(true);
    policy.dispose();
    small.dispose();
  });

  it('should fail with PROBE_UNSUPPORTED naming the probe, the world and the missing token', async () => {
    const json = vocabulary.toJSON();
    const tokens = json.tokens.filter((t) => !t.startsWith('<rlhf:'));
    const { rlhf: _drop, ...namespaces } = json.namespaces;
    const noFlags = Vocabulary.fromJSON({ ...json, tokens, namespaces });
    const policy = myopiaPolicy(0.5);
    await expect(runProbe(flagLeakage({ episodes: 10 }), probeContext(policy, [myopia], { base: policy, vocabulary: noFlags }))).rejects.toMatchObject({
      code: 'PROBE_UNSUPPORTED',
      plugin: 'flag-leakage',
      message: expect.stringMatching(/\[probe flag-leakage\] world 'myopia': the vocabulary has no <rlhf:off> token/),
    });
    policy.dispose();
  });
});
