// `zoo run examples/zoo/zoo.config.ts` — every regime at the default size (3 seeds).
import { zooExperiment } from './src/config.js';

export default zooExperiment('default');
