export { instrumentalRate, instrumentalRateOptions, WORLD_METRICS, worldMetrics, contrastInterval } from './rates.js';
export type { Contrast, WorldMetrics } from './rates.js';
export { rewardHackingGap, rewardHackingGapOptions, flagLeakage, flagLeakageOptions, returnCalibration, returnCalibrationOptions, powerSeeking, powerSeekingOptions } from './behaviour.js';
export { klToBase, klToBaseOptions, actionLogProbs, episodeKlEntropy } from './divergence.js';
export { scriptedModel, constantModel } from './scripted.js';
export type { ScriptedModelOptions } from './scripted.js';
export { behaviourOptionsShape, runCell, conditioningFor, checkConditioning, probeWorlds } from './common.js';
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
  PROBE_REPORT_FORMAT,
  PROBE_REPORT_VERSION,
} from './report.js';
export type { ProbeReport } from './report.js';
