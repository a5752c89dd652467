// The CI smoke size: one seed, seconds of training.
import { distillationOodExperiment } from './src/config.js';

export default distillationOodExperiment('tiny');
