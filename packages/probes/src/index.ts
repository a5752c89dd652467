export { instrumentalRate, instrumentalRateOptions, WORLD_METRICS, worldMetrics, contrastInterval } from './rates.js';
export type { Contrast, WorldMetrics } from './rates.js';
export { rewardHackingGap, rewardHackingGapOptions, flagLeakage, flagLeakageOptions, returnCalibration, returnCalibrationOptions, powerSeeking, powerSeekingOptions } from './behaviour.js';
export { klToBase, klToBaseOptions, actionLogProbs, episodeKlEntropy } from './divergence.js';
export { linearProbe, linearProbeOptions } from './linear.js';
export { ccs, ccsProbe, ccsProbeOptions, CONTRAST_BUILDERS } from './ccs.js';
export type { CcsOptions, CcsResult } from './ccs.js';
export { relearnSteps, relearnStepsOptions, fineTune, unsafeDemonstrations, unsafeRate } from './relearn.js';
export type { FineTuneOptions } from './relearn.js';
export { collectActivations, featureLabels, hookName, POSITION_HOOKS } from './activations.js';
export { fitLogistic, probeFeature, standardiser } from './logistic.js';
export type { LogisticModel, LogisticOptions, FeatureProbeOptions, FeatureProbeResult } from './logistic.js';
export { scriptedModel, constantModel } from './scripted.js';
export type { ScriptedModelOptions } from './scripted.js';
export { behaviourOptionsShape, runCell, conditioningFor, checkConditioning, conditionOf, createProbeContext, probeWorlds, worldSplits } from './common.js';
export type { Cell, CellOptions, Conditioning, Decoding, Split } from './common.js';
export { meanInterval, spearman, auroc, ranks } from './stats.js';
export {
  probeRowSchema,
  probeReportSchema,
  probeReport,
  parseProbeReport,
  probeResult,
  rowsToMetrics,
  findRows,
  runProbes,
  PROBE_REPORT_FORMAT,
  PROBE_REPORT_VERSION,
} from './report.js';
export type { ProbeReport } from './report.js';
