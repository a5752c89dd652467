// The README's run: 3 seeds. `npx -y pnpm@12.4.2 run experiment:custom-regime`
import { customRegimeExperiment } from './src/config.js';

export default customRegimeExperiment('default');
