import fs from 'node:fs';
import os from 'node:os';
import { ensureBackend, fusedOpsAvailable, graphAvailable, measureMatmulGflops, nativeTensorFlowVersion, Rng, rollout, tf, tokenLogProbs, Trainer, Transformer, ZooError } from '@regime-zoo/core';
import type { Environment } from '@regime-zoo/core';
import { BENCH_CONFIG_NAMES, BENCH_CONFIGS, BENCH_SHAPE, FLOP_FORMULA, trainingFlops, type BenchConfigName, type FlopCount } from './flops.js';

export interface BenchmarkOptions {
  /** Configs to run, in order (default S, M, L). */
  configs?: readonly BenchConfigName[];
  /** Timed training steps per config (default 30). */
  steps?: number;
  /** Untimed steps before timing (default 3). */
  warmupSteps?: number;
  /** Time KV-cache and no-cache rollouts (default true). */
  rollouts?: boolean;
  /** Episodes per rollout, decoded as one batch (default 32). */
  rolloutEpisodes?: number;
  /** Prompt tokens before generation (default 8). */
  promptLength?: number;
  /** Tokens each episode generates (default 48). */
  generateTokens?: number;
  /** Timed rollouts per mode, after one untimed full-length warm-up rollout each; the modes take turns and the median is reported (default 5). */
  rolloutRepeats?: number;
  /** Size of the square matmul that measures the machine's peak (default 1024). */
  matmulSize?: number;
  seed?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface TimingStats {
  median: number;
  mean: number;
  min: number;
  max: number;
}

export interface TrainingMeasurement {
  warmupSteps: number;
  steps: number;
  /** Wall time of `Trainer.trainStep` (forward, backward, clipping, AdamW, loss read-back) in ms. */
  msPerStep: TimingStats;
  /** B·T / median step time. */
  tokensPerSecond: number;
  /** FLOPs/step / median step time. */
  achievedGflops: number;
  /** achievedGflops / the measured matmul peak. */
  fractionOfPeak: number;
  /** CPU cores other processes kept busy while the steps were timed (Linux /proc/stat; absent elsewhere). */
  otherLoad?: number;
}

export interface MemoryMeasurement {
  /** High-water mark of `tf.memory().numBytes` during one training step (tf.profile). */
  peakTensorBytes: number;
  /** `tf.memory().numBytes` after the timed steps (weights, AdamW moments, data). */
  tensorBytesAfter: number;
  /** Kernels run by one training step (tf.profile). */
  kernelsPerStep: number;
  /** Peak resident set size of the process while this config ran. */
  peakRssBytes: number;
  /** `VmHWM` (reset before each config through /proc/self/clear_refs) or `sampled` (max RSS after each step). */
  rssMethod: 'VmHWM' | 'sampled';
}

export interface RolloutMode {
  ms: number;
  /** Generated tokens / time. */
  tokensPerSecond: number;
}

export interface RolloutMeasurement {
  episodes: number;
  promptLength: number;
  generateTokens: number;
  withCache: RolloutMode;
  withoutCache: RolloutMode;
  /** withCache.tokensPerSecond / withoutCache.tokensPerSecond. */
  speedup: number;
  /** CPU cores other processes kept busy during the timed rollouts (Linux only). */
  otherLoad?: number;
}

export interface ConfigBenchResult {
  name: BenchConfigName;
  model: { vocabSize: number; contextLength: number; dModel: number; nLayers: number; nHeads: number; mlpRatio: number };
  batch: number;
  params: number;
  flopsPerStep: FlopCount;
  training: TrainingMeasurement;
  memory: MemoryMeasurement;
  rollout?: RolloutMeasurement;
}

export interface BenchmarkResult {
  kind: 'regime-zoo-bench';
  library: 'tfjs';
  backend: string;
  backendReason: string;
  tensorflowVersion?: string;
  /** Whether core's compiled TensorFlow graphs ran (native backend, not turned off by REGIME_ZOO_GRAPH=0). */
  compiledGraphs: boolean;
  /** Whether the graphs used core's fused kernels (`fusedOpsAvailable`). */
  fusedKernels?: boolean;
  node: string;
  platform: string;
  cpus: number;
  matmulPeak: { size: number; gflops: number };
  flopFormula: string;
  startedAt: string;
  seconds: number;
  configs: ConfigBenchResult[];
}

/** What `bench/torch_reference.py` prints (the same measurements from PyTorch on the CPU). */
export interface TorchReferenceResult {
  kind: 'regime-zoo-bench-torch';
  library: 'torch';
  torchVersion: string;
  threads: number;
  matmulPeak: { size: number; gflops: number };
  configs: {
    name: BenchConfigName;
    params: number;
    flopsPerStep: FlopCount;
    training: TrainingMeasurement;
    memory: { peakRssBytes: number; rssMethod: string };
    rollout?: RolloutMeasurement;
  }[];
}

/** The torch side of a comparison: its result, or why it was skipped. */
export type TorchReference = { ok: true; result: TorchReferenceResult } | { ok: false; reason: string };

export interface BenchComparison {
  name: BenchConfigName;
  /** tfjs tokens/s ÷ PyTorch tokens/s (training). */
  trainingRatio: number;
  target: number;
  met: boolean;
  /** tfjs KV-cache rollout tokens/s ÷ PyTorch's (when both measured rollouts); target `BENCH_TARGETS.kvRatio`. */
  kvRatio?: number;
  /** tfjs peak RSS ÷ PyTorch's; target ≤ `BENCH_TARGETS.rssRatio`. */
  rssRatio: number;
}

export interface BenchState {
  step: number;
}

/**
 * The rollout benchmark's world: a prompt of `promptLength` tokens (1, then random ids), after which the
 * model emits `generateTokens` tokens (any id is legal) with no observations; then the episode ends.
 */
export function benchEnvironment(options: { vocabSize?: number; promptLength?: number; generateTokens?: number } = {}): Environment<BenchState> {
  const V = options.vocabSize ?? BENCH_SHAPE.vocabSize;
  const promptLength = options.promptLength ?? 8;
  const generate = options.generateTokens ?? 48;
  const legal = Array.from({ length: V }, (_, i) => i);
  return {
    name: 'bench',
    reset: (rng) => ({ state: { step: 0 }, tokens: [1, ...Array.from({ length: promptLength - 1 }, () => rng.int(V))] }),
    legalActions: () => legal,
    step: (s) => ({ state: { step: s.step + 1 }, observation: [], reward: 0, done: s.step + 1 >= generate }),
  };
}

function stats(xs: readonly number[]): TimingStats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0]!, max: s[s.length - 1]! };
}

/** Resets the kernel's peak-RSS counter of this process (Linux); false where that is not possible. */
function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return readVmHWM() !== undefined;
  } catch {
    return false;
  }
}

interface CpuSample {
  busy: number;
  total: number;
  own: number;
  cpus: number;
}

/** Jiffies the whole machine was busy, in total, and this process's user + system time (Linux). */
function cpuSample(): CpuSample | undefined {
  try {
    const stat = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    // cpu user nice system idle iowait irq softirq steal (guest time is already inside user)
    const f = stat[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const busy = total - f[3]! - (f[4] ?? 0);
    const cpus = stat.filter((l) => /^cpu\d+ /.test(l)).length;
    const self = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(total + busy + own) && cpus > 0 ? { busy, total, own, cpus } : undefined;
  } catch {
    return undefined;
  }
}

/** Cores' worth of CPU that other processes used between two samples (0 when the machine was ours). */
function otherLoad(a: CpuSample | undefined, b: CpuSample | undefined): number | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  const other = b.busy - a.busy - (b.own - a.own);
  return Math.max(0, (other / (b.total - a.total)) * b.cpus);
}

function readVmHWM(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function checkPositiveInt(name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new ZooError('OPTION_INVALID', `bench: ${name} must be an integer ≥ ${min}, got ${v}`, { field: name });
}

/**
 * Measures, per config: training ms/step and tokens/s (AdamW via `Trainer`, mean next-token NLL on random
 * tokens, batch 32 × 64), the fraction of the measured matmul peak, the tensor-memory high-water mark and
 * peak RSS, and rollout tokens/s with and without the KV cache. Progress goes to `options.log` (stderr).
 */
export async function runBenchmark(options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const names = options.configs ?? BENCH_CONFIG_NAMES;
  for (const n of names) {
    if (!(n in BENCH_CONFIGS)) throw new ZooError('OPTION_INVALID', `bench: unknown config "${n}"; use ${BENCH_CONFIG_NAMES.join(', ')}`, { field: 'configs' });
  }
  const steps = options.steps ?? 30;
  const warmupSteps = options.warmupSteps ?? 3;
  const matmulSize = options.matmulSize ?? 1024;
  const promptLength = options.promptLength ?? 8;
  const generateTokens = options.generateTokens ?? 48;
  const episodes = options.rolloutEpisodes ?? BENCH_SHAPE.batch;
  const repeats = options.rolloutRepeats ?? 5;
  checkPositiveInt('steps', steps);
  checkPositiveInt('warmupSteps', warmupSteps, 0);
  checkPositiveInt('matmulSize', matmulSize);
  checkPositiveInt('promptLength', promptLength);
  checkPositiveInt('generateTokens', generateTokens);
  checkPositiveInt('rolloutEpisodes', episodes);
  checkPositiveInt('rolloutRepeats', repeats);
  if (promptLength + generateTokens > BENCH_SHAPE.contextLength) {
    throw new ZooError('OPTION_INVALID', `bench: promptLength + generateTokens (${promptLength + generateTokens}) exceeds the context ${BENCH_SHAPE.contextLength}`, {
      field: 'generateTokens',
    });
  }
  const seed = options.seed ?? 0;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const backend = ensureBackend();
  const tensorflowVersion = nativeTensorFlowVersion();

  log(`[bench] backend ${backend.name} (${backend.reason}); measuring the ${matmulSize}x${matmulSize} matmul peak`);
  // The best of three medians: a peak, robust to a moment of contention on a shared machine.
  const peakGflops = Math.max(...[0, 1, 2].map(() => measureMatmulGflops(matmulSize, 10)));
  log(`[bench] matmul peak ${peakGflops.toFixed(1)} GFLOP/s`);

  const { vocabSize, contextLength, batch: B, mlpRatio } = BENCH_SHAPE;
  const T = contextLength;
  const results: ConfigBenchResult[] = [];
  for (const name of names) {
    const shape = BENCH_CONFIGS[name];
    const modelConfig = { vocabSize, contextLength, mlpRatio, ...shape };
    const flops = trainingFlops(modelConfig, B, T);
    const rng = new Rng(seed);
    const model = Transformer.create({ ...modelConfig, seed });
    const trainer = new Trainer(model, { totalSteps: warmupSteps + steps + 1, optimizer: { lr: 3e-4, warmupSteps: Math.min(warmupSteps, 10), weightDecay: 0.01 } });
    // A few fixed random batches, made before timing.
    const batches = Array.from({ length: 4 }, () => {
      const ids = new Int32Array(B * T);
      for (let i = 0; i < ids.length; i++) ids[i] = rng.int(vocabSize);
      return tf.tensor2d(ids, [B, T], 'int32');
    });
    let which = 0;
    const lossFn = () => {
      const tokens = batches[which++ % batches.length]!;
      const { logits } = model.forward(tokens);
      return { loss: tf.neg(tf.mean(tokenLogProbs(logits, tokens))) as tf.Scalar };
    };
    const hwm = resetPeakRss();
    let sampledRss = process.memoryUsage.rss();
    try {
      log(`[bench] ${name}: ${model.numParams()} params; ${warmupSteps} warm-up + ${steps} timed steps of ${B}×${T} tokens`);
      for (let i = 0; i < warmupSteps; i++) trainer.trainStep(lossFn);
      const times: number[] = [];
      const cpu0 = cpuSample();
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        trainer.trainStep(lossFn);
        times.push(performance.now() - t0);
        sampledRss = Math.max(sampledRss, process.memoryUsage.rss());
        if ((i + 1) % 10 === 0 || i + 1 === steps) log(`[bench] ${name}: step ${i + 1}/${steps}, ${times[i]!.toFixed(1)} ms`);
      }
      const trainingLoad = otherLoad(cpu0, cpuSample());
      const tensorBytesAfter = tf.memory().numBytes;
      // One more (untimed) step under tf.profile for the tensor high-water mark and the kernel count.
      const profile = await tf.profile(() => {
        trainer.trainStep(lossFn);
      });
      const msPerStep = stats(times);
      const achievedGflops = flops.total / (msPerStep.median * 1e6);
      const training: TrainingMeasurement = {
        warmupSteps,
        steps,
        msPerStep,
        tokensPerSecond: (B * T) / (msPerStep.median / 1000),
        achievedGflops,
        fractionOfPeak: achievedGflops / peakGflops,
        ...(trainingLoad !== undefined ? { otherLoad: trainingLoad } : {}),
      };
      log(`[bench] ${name}: ${msPerStep.median.toFixed(1)} ms/step, ${training.tokensPerSecond.toFixed(0)} tokens/s, ${achievedGflops.toFixed(2)} GFLOP/s`);

      let rolloutResult: RolloutMeasurement | undefined;
      if (options.rollouts ?? true) {
        const env = benchEnvironment({ vocabSize, promptLength, generateTokens });
        const maxLength = promptLength + generateTokens;
        const timeRollout = (kvCache: boolean, i: number): number => {
          const t0 = performance.now();
          const eps = rollout(model, env, { episodes, rng: new Rng(seed + 2 + i), kvCache, maxLength });
          const ms = performance.now() - t0;
          const generated = eps.reduce((a, e) => a + e.actionMask.filter(Boolean).length, 0);
          if (generated !== episodes * generateTokens) throw new ZooError('INTERNAL', `bench rollout generated ${generated} tokens, expected ${episodes * generateTokens}`);
          return ms;
        };
        log(`[bench] ${name}: rollouts, ${episodes} episodes × ${generateTokens} tokens after a ${promptLength}-token prompt, with and without the KV cache in turns`);
        const cpu1 = cpuSample();
        // A full-length warm-up per mode: the first call at each new sequence length sets up TensorFlow's
        // kernels for that shape (oneDNN compiles some per shape), a one-off cost that is not the decoding speed.
        for (const kvCache of [true, false]) rollout(model, env, { episodes, rng: new Rng(seed + 1), kvCache, maxLength });
        // The modes take turns, so that a change in the machine's speed (a shared VM) hits both alike.
        const withTimes: number[] = [];
        const withoutTimes: number[] = [];
        for (let i = 0; i < repeats; i++) {
          withTimes.push(timeRollout(true, i));
          withoutTimes.push(timeRollout(false, i));
        }
        sampledRss = Math.max(sampledRss, process.memoryUsage.rss());
        const withMs = stats(withTimes).median;
        const withoutMs = stats(withoutTimes).median;
        const rolloutLoad = otherLoad(cpu1, cpuSample());
        const generated = episodes * generateTokens;
        const withCache = { ms: withMs, tokensPerSecond: generated / (withMs / 1000) };
        const withoutCache = { ms: withoutMs, tokensPerSecond: generated / (withoutMs / 1000) };
        rolloutResult = {
          episodes,
          promptLength,
          generateTokens,
          withCache,
          withoutCache,
          speedup: withCache.tokensPerSecond / withoutCache.tokensPerSecond,
          ...(rolloutLoad !== undefined ? { otherLoad: rolloutLoad } : {}),
        };
        log(`[bench] ${name}: rollout ${withCache.tokensPerSecond.toFixed(0)} tokens/s with the cache, ${withoutCache.tokensPerSecond.toFixed(0)} without (${rolloutResult.speedup.toFixed(1)}×)`);
      }
      const vmhwm = hwm ? readVmHWM() : undefined;
      results.push({
        name,
        model: { vocabSize, contextLength, mlpRatio, ...shape },
        batch: B,
        params: model.numParams(),
        flopsPerStep: flops,
        training,
        memory: {
          peakTensorBytes: profile.peakBytes,
          tensorBytesAfter,
          kernelsPerStep: profile.kernels.length,
          peakRssBytes: vmhwm ?? sampledRss,
          rssMethod: vmhwm !== undefined ? 'VmHWM' : 'sampled',
        },
        ...(rolloutResult ? { rollout: rolloutResult } : {}),
      });
    } finally {
      tf.dispose(batches);
      trainer.dispose();
      model.dispose();
    }
  }
  return {
    kind: 'regime-zoo-bench',
    library: 'tfjs',
    backend: backend.name,
    compiledGraphs: graphAvailable(),
    fusedKernels: fusedOpsAvailable(),
    backendReason: backend.reason,
    ...(tensorflowVersion ? { tensorflowVersion } : {}),
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    cpus: os.availableParallelism(),
    matmulPeak: { size: matmulSize, gflops: peakGflops },
    flopFormula: FLOP_FORMULA,
    startedAt,
    seconds: (performance.now() - started) / 1000,
    configs: results,
  };
}
