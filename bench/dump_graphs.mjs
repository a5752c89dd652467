// Writes the inputs of every compiled-graph call of one training step of a bench config (S, M or L), with
// the SavedModel folder and the fetched outputs, to <dir>/<config>-<graph id>/, for graph_op_times.py.
// docs/performance.md, "Issue 19: second pass".
//   node bench/dump_graphs.mjs S /tmp/graphs      (build first: pnpm build)
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_CONFIGS, BENCH_SHAPE } from '../packages/bench/dist/index.js';
import { ensureBackend, Rng, tf, tokenLogProbs, Trainer, Transformer } from '../packages/core/dist/index.js';

const [name = 'S', dir] = process.argv.slice(2);
if (!(name in BENCH_CONFIGS) || !dir) throw new Error('usage: node bench/dump_graphs.mjs S|M|L <dir>');
ensureBackend();
const backend = tf.backend();
const folders = new Map();
const load = backend.loadSavedModelMetaGraph.bind(backend);
backend.loadSavedModelMetaGraph = (folder, tags) => {
  const id = load(folder, tags);
  folders.set(id, folder);
  return id;
};
const run = backend.runSavedModel.bind(backend);
let dumping = false;
const dumped = new Set();
backend.runSavedModel = (id, inputs, infos, outputs) => {
  if (dumping && !dumped.has(id)) {
    dumped.add(id);
    const out = path.join(dir, `${name}-${id}`);
    fs.mkdirSync(out, { recursive: true });
    const meta = { savedModel: folders.get(id), outputs, inputs: infos.map((info, k) => ({ name: info.name, dtype: info.dtype, shape: inputs[k].shape })) };
    fs.writeFileSync(path.join(out, 'meta.json'), JSON.stringify(meta));
    inputs.forEach((t, k) => fs.writeFileSync(path.join(out, `${k}.bin`), Buffer.from(t.dataSync().buffer)));
  }
  return run(id, inputs, infos, outputs);
};
const { vocabSize, contextLength, batch: B, mlpRatio } = BENCH_SHAPE;
const model = Transformer.create({ vocabSize, contextLength, mlpRatio, ...BENCH_CONFIGS[name], seed: 0 });
const trainer = new Trainer(model, { totalSteps: 4, optimizer: { lr: 3e-4, warmupSteps: 1, weightDecay: 0.01 } });
const rng = new Rng(0);
const tokens = tf.tensor2d(Int32Array.from({ length: B * contextLength }, () => rng.int(vocabSize)), [B, contextLength], 'int32');
const loss = () => ({ loss: tf.neg(tf.mean(tokenLogProbs(model.forward(tokens).logits, tokens))) });
trainer.trainStep(loss);
dumping = true;
trainer.trainStep(loss);
console.log(`wrote ${dumped.size} graphs' inputs to ${dir}`);
