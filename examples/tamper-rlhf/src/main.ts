// pnpm --filter @regime-zoo/example-tamper-rlhf start  (a larger run than the test)
import { formatResult, tamperExperiment } from './experiment.js';

const result = await tamperExperiment({ episodes: 3000, pairs: 8000, sftSteps: 600, rmSteps: 300, ppoSteps: 40, evalEpisodes: 1000, seed: 7, log: (l) => console.error(l) });
console.log(formatResult(result));
