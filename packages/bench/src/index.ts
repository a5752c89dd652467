export { BENCH_CONFIGS, BENCH_CONFIG_NAMES, BENCH_SHAPE, BENCH_TARGETS, FLOP_FORMULA, trainingFlops } from './flops.js';
export type { BenchConfigName, FlopCount, FlopShape } from './flops.js';
export { runBenchmark, benchEnvironment } from './run.js';
export type {
  BenchmarkOptions,
  BenchmarkResult,
  BenchComparison,
  BenchState,
  ConfigBenchResult,
  MemoryMeasurement,
  RolloutMeasurement,
  RolloutMode,
  TimingStats,
  TorchReference,
  TorchReferenceResult,
  TrainingMeasurement,
} from './run.js';
export { compareWithReference, formatBenchmark, OTHER_LOAD_WARNING } from './report.js';
