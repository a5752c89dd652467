// `zoo run examples/rlhf-flag/rlhf-flag.config.ts` — the README's main job at its default size.
import { rlhfFlagExperiment } from './src/config.js';

export default rlhfFlagExperiment('default');
