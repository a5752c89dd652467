// Writes the inputs of every compiled-graph call of one training step of a bench config (S, M or L), with
// the SavedModel folder and the fetched outputs, to <dir>/<config>-<graph id>/, for graph_op_times.py.
// docs/performance.md, "Issue 19: second pass".
//   node bench/dump_graphs.mjs S /tmp/graphs      (build first: pnpm build)
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_CONFIGS } from '../packages/bench/dist/index.js';
import { ensureBackend, tf } from '../packages/core/dist/index.js';
import { benchStep } from './setup.mjs';

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
const { trainer, loss } = benchStep(name, 4, 1);
trainer.trainStep(loss);
dumping = true;
trainer.trainStep(loss);
console.log(`wrote ${dumped.size} graphs' inputs to ${dir}`);
