// The CI smoke size: one seed, seconds of training.
import { customRegimeExperiment } from './src/config.js';

export default customRegimeExperiment('tiny');
