// A hash of every parameter after three training steps of the bench's S config: equal hashes from two
// trees mean their training is the same bit for bit (a change that only moves work between graphs keeps
// it; one that sums in another order does not). docs/performance.md, "Issue 19: second pass".
//   node bench/weights_hash.mjs      (build first: pnpm build)
import { createHash } from 'node:crypto';
import { benchStep } from './setup.mjs';

const { model, trainer, loss } = benchStep('S', 5);
for (let i = 0; i < 3; i++) trainer.trainStep(loss);
const hash = createHash('sha256');
for (const v of model.variables()) hash.update(Buffer.from(v.dataSync().buffer));
console.log(hash.digest('hex').slice(0, 16));
