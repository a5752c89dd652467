import { describe, expect, it } from 'vitest';
import { BENCH_TARGETS, trainingFlops } from './flops.js';
import { compareWithReference, formatBenchmark } from './report.js';
import type { BenchmarkResult, ConfigBenchResult, RolloutMeasurement, TorchReferenceResult, TrainingMeasurement } from './run.js';

const MiB = 2 ** 20;
const model = { vocabSize: 64, contextLength: 64, dModel: 64, nLayers: 2, nHeads: 4, mlpRatio: 4 };
const training = (ms: number, fractionOfPeak: number): TrainingMeasurement => ({
  warmupSteps: 1,
  steps: 3,
  msPerStep: { median: ms, mean: ms, min: ms, max: ms },
  tokensPerSecond: (32 * 64 * 1000) / ms,
  achievedGflops: 1,
  fractionOfPeak,
});
const rollout = (kvTokensPerSecond: number): RolloutMeasurement => ({
  episodes: 32,
  promptLength: 8,
  generateTokens: 48,
  withCache: { ms: 1, tokensPerSecond: kvTokensPerSecond },
  withoutCache: { ms: 6, tokensPerSecond: kvTokensPerSecond / 6 },
  speedup: 6,
});

// tfjs: S trains at 20 ms (PyTorch 25 ms: ratio 1.25), at 50% of peak; KV rollouts 90% of PyTorch's; RSS 1.6× PyTorch's.
const S: ConfigBenchResult = {
  name: 'S',
  model,
  batch: 32,
  params: 112448,
  flopsPerStep: trainingFlops(model, 32, 64),
  training: training(20, 0.5),
  memory: { peakTensorBytes: MiB, tensorBytesAfter: MiB, kernelsPerStep: 80, peakRssBytes: 480 * MiB, rssMethod: 'VmHWM' },
  rollout: rollout(9000),
};
const result: BenchmarkResult = {
  kind: 'regime-zoo-bench',
  library: 'tfjs',
  backend: 'tensorflow',
  backendReason: 'test',
  compiledGraphs: true,
  node: 'v20',
  platform: 'linux-x64',
  cpus: 2,
  matmulPeak: { size: 1024, gflops: 200 },
  flopFormula: 'f',
  startedAt: '',
  seconds: 1,
  configs: [S],
};
const reference: TorchReferenceResult = {
  kind: 'regime-zoo-bench-torch',
  library: 'torch',
  torchVersion: '2',
  threads: 2,
  matmulPeak: { size: 1024, gflops: 300 },
  configs: [{ name: 'S', params: 112448, flopsPerStep: S.flopsPerStep, training: training(25, 0.3), memory: { peakRssBytes: 300 * MiB, rssMethod: 'VmHWM' }, rollout: rollout(10000) }],
};

describe('bench report against the PyTorch reference', () => {
  it("should compute issue 19's ratios: training throughput, KV-cache rollouts, peak RSS", () => {
    const [c] = compareWithReference(result, reference);
    expect(c!.trainingRatio).toBeCloseTo(1.25, 10);
    expect(c!.met).toBe(true);
    expect(c!.kvRatio).toBeCloseTo(0.9, 10);
    expect(c!.rssRatio).toBeCloseTo(1.6, 10);
    expect(BENCH_TARGETS).toMatchObject({ trainingRatio: { S: 1.1, M: 1.1, L: 1.1 }, kvRatio: 1.0, rssRatio: 1.5, fractionOfPeak: { S: 0.45 } });
  });

  it('should mark each target met or NOT met in the tables', () => {
    const text = formatBenchmark(result, { ok: true, result: reference });
    expect(text).toMatch(/^S \(d64 L2 H4\).*50\.0%\s+≥ 45% met/m);
    expect(text).toMatch(/^S\s+25\.0\s+25\.0\s+\d+\s+30\.0%\s+-\s+1\.25\s+≥ 1\.1 met$/m);
    expect(text).toMatch(/^S .*480\.0 MiB \(VmHWM\)\s+300\.0 MiB \(VmHWM\)\s+1\.60\s+≤ 1\.5 NOT met$/m);
    expect(text).toMatch(/0\.90\s+≥ 1\.0 NOT met$/m);
    expect(text).toContain('tfjs/PyTorch KV-cache rollouts: S 0.90 (target ≥ 1.0)');
    expect(text).toContain('tfjs/PyTorch peak RSS: S 1.60 (target ≤ 1.5)');
  });
});
