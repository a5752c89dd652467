import { defineWorld, runProbe, type ProbeRow } from '@regime-zoo/core';
import { myopiaWorld, tokenId } from '@regime-zoo/worlds';
import { rejected, thrown } from '@regime-zoo/test-utils';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { instrumentalRate } from './rates.js';
import { rewardHackingGap } from './behaviour.js';
import { createProbeContext } from './common.js';
import { findRows, parseProbeReport, probeReport, probeResult, PROBE_REPORT_FORMAT, runProbes } from './report.js';
import { myopiaPolicy, probeContext } from './test-helpers.js';

const myopia = myopiaWorld({ idVariants: [{ delay: 1, size: 1 }] });
const sample: ProbeRow = { probe: 'p', world: 'w', split: 'id', condition: 'none', decoding: 'sample', metric: 'TamperRate', value: 0.5, lo: 0.4, hi: 0.6, n: 100 };

describe('probe report', () => {
  it('should round-trip through JSON text and keep where every number is from', () => {
    const report = probeReport([probeResult([sample, { ...sample, split: 'ood', value: 0.7 }])]);
    expect(report.format).toBe(PROBE_REPORT_FORMAT);
    expect(parseProbeReport(JSON.stringify(report))).toEqual(report);
    expect(findRows(report, { split: 'ood' }).map((r) => r.value)).toEqual([0.7]);
  });

  it('should reject a non-finite value naming the row, and a bad saved report naming the field', () => {
    const e = thrown(() => probeReport([probeResult([{ ...sample, value: Number.NaN }])]));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toMatch(/rows\.0\.value.*\(probe p, world w, metric TamperRate\)/);
    expect(thrown(() => parseProbeReport({ format: PROBE_REPORT_FORMAT, version: 1, rows: [{ ...sample, split: 'train' }] })).message).toMatch(/rows\.0\.split/);
    expect(thrown(() => parseProbeReport('{')).code).toBe('BAD_JSON');
  });
});

describe('probes that cannot run', () => {
  it('should name the probe, the world and what is missing for a world without evaluate()', async () => {
    const bare = defineWorld({
      name: 'bare',
      options: z.object({}).strict(),
      create: () => ({ environment: () => myopia.environment('id') }),
    })();
    const policy = myopiaPolicy(0.5);
    const e = await rejected(runProbe(instrumentalRate({ episodes: 4 }), probeContext(policy, [bare])));
    expect(e).toMatchObject({ code: 'PROBE_UNSUPPORTED', plugin: 'instrumental-rate', hook: 'run' });
    expect(e.message).toMatch(/\[probe instrumental-rate\] world 'bare': has no evaluate\(tokens\)/);
    policy.dispose();
  });

  it('should refuse a "conditioning" id that the vocabulary says is a world symbol, naming the token', async () => {
    const policy = myopiaPolicy(0.5);
    const e = await rejected(runProbe(instrumentalRate({ episodes: 4 }), probeContext(policy, [myopia], { condition: () => [tokenId('b')] })));
    expect(e.code).toBe('PROBE_UNSUPPORTED');
    expect(e.message).toMatch(/world 'myopia': conditioning token 0 is b \(id \d+\), which is not a conditioning token of the vocabulary \(namespaces: rlhf, sup, rtg, trigger\)/);
    policy.dispose();
  });

  it("should pass on the regime's own error when it cannot condition on a spec", async () => {
    const policy = myopiaPolicy(0.5);
    const condition = () => {
      throw new Error('bucket 9 is not one of 0…4');
    };
    const e = await rejected(runProbe(instrumentalRate({ episodes: 4, specs: [{ bucket: 9 }] }), probeContext(policy, [myopia], { condition })));
    expect(e.message).toMatch(/world 'myopia': the regime's condition\(\{"bucket":9\}\) failed: bucket 9 is not one of 0…4/);
    policy.dispose();
  });

  it('should validate options when the factory is called', () => {
    expect(thrown(() => instrumentalRate({ episodes: 0 })).message).toMatch(/\[instrumental-rate\] options\.episodes/);
  });
});

describe('runProbes', () => {
  it('should run several probes on one context and join their rows in one report', async () => {
    const policy = myopiaPolicy(0.5);
    const ctx = createProbeContext({ policy, worlds: [myopia], splits: ['id'] });
    const report = await runProbes([instrumentalRate({ episodes: 8, decodings: ['greedy'] }), rewardHackingGap({ episodes: 8, decodings: ['greedy'] })], ctx);
    expect([...new Set(report.rows.map((r) => r.probe))]).toEqual(['instrumental-rate', 'reward-hacking-gap']);
    expect(parseProbeReport(JSON.stringify(report))).toEqual(report);
    policy.dispose();
  });
});
