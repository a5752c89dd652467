export { ensureBackend, nativeTensorFlowVersion, measureMatmulGflops, doctor, formatDoctorReport, summaryFileWriter } from './backend.js';
export type { BackendInfo, NativeProvisionStatus, DoctorReport, ScalarSummaryWriter } from './backend.js';
export { ZooError, toZooError, callPluginHook, withStep } from './errors.js';
export type { ZooErrorCode, ZooErrorOptions } from './errors.js';
export { Rng } from './rng.js';
export { parseModelConfig, modelConfigSchema, describeZodError, MAX_CONTEXT } from './config.js';
export type { ModelConfig, ModelConfigInput } from './config.js';
export { Transformer, hookNames, parameterShapes } from './model.js';
export type { ForwardOptions, ForwardResult, HookFn, KVCache, TokenInput } from './model.js';
export { tokenLogProbs, sequenceLogProbs, maskedNll, entropy, exactKl, klEstimate, maskedMean, policyDiagnostics, logSigmoid } from './ops.js';
export type { KlEstimator } from './ops.js';
export { sampleToken } from './sampling.js';
export type { SampleOptions } from './sampling.js';
export { rollout, repeatResets } from './rollout.js';
export type { Environment, EnvStep, Episode, RolloutOptions } from './rollout.js';
export { Trainer, AdamW, learningRate, optimizerConfigSchema, TRAINING_DEFAULTS } from './train.js';
export { graphAvailable, setGraphMode } from './graph-run.js';
export { FUSED_OPS_PATH, fusedOpsAvailable, fusedOpsStatus, setFusedOps, type FusedOpsStatus } from './fused-ops.js';
export type { LossOutput, OptimizerConfig, OptimizerConfigInput, StepInfo, TrainerOptions } from './train.js';
export { saveCheckpoint, loadCheckpoint, restoreTrainer, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint.js';
export type { CheckpointMeta, LoadedCheckpoint, SaveCheckpointOptions } from './checkpoint.js';
export { findCheckpoint, removeLitter, DEFAULT_KEEP_LAST, POINTER_FILE } from './checkpoint-store.js';
export type { FoundCheckpoint } from './checkpoint-store.js';
export { padExamples, withConditioning, sampleExamples, exampleLogProbs, legalLogits, checkExamples, datasetReturns, trainLoop, fitWithLoss, trainingOptionsSchema } from './loop.js';
export type { TrainLoopOptions, TrainingOptions } from './loop.js';
export { definePlugin, defineRegime, defineProbe, defineWorld, defineDistiller, runFit, runProbe, createFitContext } from './plugin.js';
export type {
  PluginKind,
  PluginBase,
  Plugin,
  Regime,
  Probe,
  World,
  Distiller,
  FitContext,
  FitReport,
  ProbeContext,
  ProbeResult,
  ProbeRow,
  DistillContext,
  EvalSpec,
  Example,
  PreferencePair,
  RewardFn,
  VocabularyLike,
  MetricsSink,
  ProgressEvent,
  SharedData,
} from './plugin.js';
/** The tfjs-core namespace core is built on (the same instance), so regimes need no separate install. */
export * as tf from '@tensorflow/tfjs-core';
/** zod, the schema library plugin options are written in (the same instance core validates with), so a plugin needs no separate install. */
export { z } from 'zod';
export { collectRollouts, microBatch, checkMicroBatches, legalLogitMask, maskedLogits, legalTokenLogProbs, rolloutOptionsShape, ppoOptionsShape, rlooOptionsShape, worldAt, sequenceKl, rlooAdvantages, klShapedRlooAdvantages, reinforceLoss, gae, ppoLoss, rolloutSummary } from './rl.js';
export type { RolloutBatch, CollectOptions, GaeResult, PpoLossOptions } from './rl.js';
export { wilson, differenceInterval } from './stats.js';
export type { Interval } from './stats.js';
export { runDistill, createDistillContext } from './plugin.js';
export type { DistillReport, EpisodeVerdict, StudentInit } from './plugin.js';
