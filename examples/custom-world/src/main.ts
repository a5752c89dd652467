// pnpm --filter @regime-zoo/example-custom-world start  (a larger run than the test; README quotes it)
import { customWorldExperiment, formatResult } from './experiment.js';

const result = await customWorldExperiment({ episodes: 1000, sftSteps: 250, klSteps: 40, beta: 0.05, evalEpisodes: 1000, seed: 7, log: (l) => console.error(l) });
console.log(formatResult(result));
