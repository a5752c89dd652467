export { main } from './main.js';
export { runExample, exampleRun } from './example.js';
export type { ExampleOptions, ExampleRun } from './example.js';
export { benchExperimentStage, formatStageBench, DEFAULT_STAGE_EXPERIMENT } from './bench-stage.js';
export type { StageBenchResult, StageTiming } from './bench-stage.js';
