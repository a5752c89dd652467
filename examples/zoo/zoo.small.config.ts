// `--size small`: one seed, seconds of training per arm; the CI smoke test runs it.
import { zooExperiment } from './src/config.js';

export default zooExperiment('small');
