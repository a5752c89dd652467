export { armBehaviour, armBehaviourOptions } from './probe.js';
export { rlhfFlagExperiment, SIZES, type Size } from './config.js';
export { resultsTable } from './table.js';
