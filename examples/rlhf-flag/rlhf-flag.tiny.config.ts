// The CI smoke size of the main job: one seed, seconds of training.
import { rlhfFlagExperiment } from './src/config.js';

export default rlhfFlagExperiment('tiny');
