// The README's run: 3 seeds. `npx -y pnpm@12.4.2 run experiment:distillation-ood`
import { distillationOodExperiment } from './src/config.js';

export default distillationOodExperiment('default');
