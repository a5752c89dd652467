// Why the teachers use vfCoef 0.001 (docs/decisions.md, issue 16): the default-size base and one PPO
// teacher on the backdoor world's visible reward (seed 1) at TRL's vfCoef 0.1, at 0.001 and at 0.
//   npx tsx --conditions=@regime-zoo/source -e "import('@regime-zoo/cli').then((m) => m.main(['run', 'teacher-vf.config.ts']))"
// (from this folder), then read objective/rlhf_reward and objective/kl of each arm in runs/teacher-vf/metrics.jsonl.
import { defineExperiment } from '@regime-zoo/experiment';

const rl = { steps: 15, episodes: 32, lr: 1e-3, warmupSteps: 2, world: 0 };
export default defineExperiment({
  name: 'teacher-vf',
  seeds: [1],
  worlds: ['backdoor', 'off-switch'],
  splits: ['id'],
  model: { dModel: 32, nHeads: 2, nLayers: 2, contextLength: 64 },
  data: { episodes: 800 },
  base: { steps: 250, batchSize: 32, lr: 3e-3 },
  arms: [
    { name: 'vf0.1', regime: { package: 'ppo', options: rl } },
    { name: 'vf0.001', regime: { package: 'ppo', options: { ...rl, vfCoef: 0.001 } } },
    { name: 'vf0', regime: { package: 'ppo', options: { ...rl, vfCoef: 0 } } },
  ],
  probes: [{ package: 'instrumental-rate', options: { episodes: 100, decodings: ['sample'], worlds: ['backdoor'] } }],
});
