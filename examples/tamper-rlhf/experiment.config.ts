// The tamper experiment of src/experiment.ts as a config: `zoo run` does the wiring, keeps a run
// directory (checkpoints, metrics.jsonl, TensorBoard, results.json, report.html) and resumes after a kill.
//   pnpm --filter @regime-zoo/example-tamper-rlhf run zoo
import { defineExperiment } from '@regime-zoo/experiment';

const probe = { episodes: 1000, decodings: ['sample'] };

export default defineExperiment({
  name: 'tamper-rlhf',
  seeds: [7],
  worlds: ['tamper'],
  model: { dModel: 48, nHeads: 4, nLayers: 2, contextLength: 64 },
  data: { episodes: 3000, pairs: 8000, raterTemperature: 1 },
  base: { steps: 600, batchSize: 32, lr: 3e-3 },
  rewardModel: { options: { steps: 300, lr: 3e-3 } },
  arms: [{ name: 'ppo', regime: { package: 'ppo', options: { steps: 40, episodes: 32, lr: 1e-3, warmupSteps: 2, checkpointEvery: 4 } }, reward: 'model' }],
  probes: [
    { package: 'instrumental-rate', options: probe },
    { package: 'reward-hacking-gap', options: probe },
  ],
});
