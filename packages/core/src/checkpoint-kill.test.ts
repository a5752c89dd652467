// SIGKILLs a child process in a tight save loop at random instants, hundreds of times. The child runs
// checkpoint-store.ts (the whole on-disk protocol: temporary folder, fsync, rename, pointer, pruning),
// transpiled to plain JS so that it starts in tens of milliseconds without TensorFlow; this process loads
// each result with the real `loadCheckpoint` and resumes with the real `trainLoop`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { listLitter, listStepFolders, POINTER_FILE } from './checkpoint-store.js';
import { trainLoop } from './loop.js';
import { Transformer } from './model.js';
import { ensureBackend } from './backend.js';
import { Rng } from './rng.js';
import { Trainer } from './train.js';

const KILLS = 300;
const LANES = 10;
/** Kill delays are uniform in [0, MAX_DELAY_MS) after the child has reported its first save. */
const MAX_DELAY_MS = 30;
const RESUME_EVERY = 5;
const KEEP_LAST = 2;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-kill-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const config = { vocabSize: 8, contextLength: 8, dModel: 8, nHeads: 1, nLayers: 1, seed: 3 };

/** checkpoint-store.ts and errors.ts as ES modules in `out`, plus the child's save loop. */
function writeChild(out: string): string {
  for (const f of ['checkpoint-store', 'errors']) {
    const source = fs.readFileSync(path.join(here, `${f}.ts`), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    fs.writeFileSync(path.join(out, `${f}.js`), js);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  const child = path.join(out, 'child.js');
  // Resumes from the directory's checkpoint, then saves step + 1, + 2, ... as fast as it can, with the
  // step written into the first weight (so that each step's bytes, and checksum, differ), reporting
  // each completed save on stdout (a pipe: synchronous writes on Linux, nothing is lost at the kill).
  fs.writeFileSync(
    child,
    `import fs from 'node:fs';
import path from 'node:path';
import { findCheckpoint, writeCheckpointDir } from './checkpoint-store.js';
const [dir, keepLast] = [process.argv[2], Number(process.argv[3])];
const found = await findCheckpoint(dir);
const meta = JSON.parse(fs.readFileSync(path.join(found.folder, 'model.json'), 'utf8'));
const weights = new Uint8Array(fs.readFileSync(path.join(found.folder, 'weights.bin')));
const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
let step = meta.step;
fs.writeSync(1, 'resumed ' + step + '\\n');
for (;;) {
  step += 1;
  view.setFloat32(0, step, true);
  delete meta.files;
  await writeCheckpointDir(dir, { step, meta: { ...meta, step }, weights, keepLast });
  fs.writeSync(1, 'saved ' + step + '\\n');
}
`,
  );
  return child;
}

interface ChildRun {
  resumed: number;
  saved: number[];
}

/**
 * Runs the child until it has completed one save, waits `delayMs`, SIGKILLs it and returns what it
 * reported. Waiting for a save, not a time from start, keeps the test meaningful on a loaded machine,
 * where a child that starts slowly would otherwise be killed before it saved anything.
 */
function runAndKill(child: string, dir: string, delayMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, dir, String(KEEP_LAST)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (s: string) => (err += s));
    p.stdout.on('data', (s: string) => {
      out += s;
      if (!timer && out.includes('\nsaved ')) timer = setTimeout(() => p.kill('SIGKILL'), delayMs);
    });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child ended by itself (code ${code}): ${err}`));
      const lines = out.split('\n').filter(Boolean);
      const first = /^resumed (\d+)$/.exec(lines[0] ?? '');
      if (!first) return reject(new Error(`child did not resume: ${out} ${err}`));
      resolve({ resumed: Number(first[1]), saved: lines.slice(1).map((l) => Number(/^saved (\d+)$/.exec(l)![1])) });
    });
  });
}

function firstWeight(m: Transformer): number {
  return tf.tidy(() => tf.slice(tf.reshape(m.params.get('embed.W_E')!, [-1]), [0], [1]).dataSync()[0]!);
}

interface LaneResult {
  childSaves: number;
  midSave: number;
  unreported: number;
  trainLoopResumes: number;
}

/**
 * One directory, `kills` children in turn. After each kill: the last completed step loads (and its
 * weights are that step's), at most the in-flight save is left over, and the next run resumes from that
 * step: every `RESUME_EVERY`-th time core's `trainLoop` (which trains one step and saves it), otherwise
 * the next child.
 */
async function lane(child: string, dir: string, kills: number, rng: Rng, data: tf.Tensor2D): Promise<LaneResult> {
  const m0 = Transformer.create(config);
  const t0 = new Trainer(m0, { totalSteps: 1, seed: 1 });
  await saveCheckpoint(dir, { model: m0, trainer: t0, keepLast: KEEP_LAST });
  t0.dispose();
  m0.dispose();

  const r: LaneResult = { childSaves: 0, midSave: 0, unreported: 0, trainLoopResumes: 0 };
  const parentSteps = new Set([0]);
  let expectedResume = 0;
  for (let k = 0; k < kills; k++) {
    const run = await runAndKill(child, dir, rng.int(MAX_DELAY_MS));
    // The child resumed from the last complete checkpoint, never from 0 or an older one.
    expect(run.resumed).toBe(expectedResume);
    r.childSaves += run.saved.length;
    const lastReported = run.saved.at(-1) ?? run.resumed;

    const steps = await listStepFolders(dir);
    const litter = await listLitter(dir);
    const pointer = JSON.parse(fs.readFileSync(path.join(dir, POINTER_FILE), 'utf8')) as { folder: string };
    if (litter.length > 0 || steps.at(-1)!.name !== pointer.folder || steps.length > KEEP_LAST) r.midSave += 1;
    // Nothing accumulates: at most the save in flight at the kill is left over (its temporary folder or
    // pointer file, or a folder being pruned), and at most one step folder beyond keepLast.
    expect(litter.length).toBeLessThanOrEqual(2);
    expect(steps.length).toBeLessThanOrEqual(KEEP_LAST + 1);

    const ck = await loadCheckpoint(dir);
    const step = ck.meta.step;
    // The last completed save is the one loaded (or the next, when the kill came after its pointer was
    // replaced but before the child could report it).
    if (step === lastReported + 1) r.unreported += 1;
    else expect(step).toBe(lastReported);
    // Its weights are that step's (the checksum was checked on load; the first weight says which step).
    if (!parentSteps.has(step)) expect(firstWeight(ck.model)).toBe(step);
    ck.dispose();
    ck.model.dispose();
    expectedResume = step;

    if (k % RESUME_EVERY === RESUME_EVERY - 1) {
      // Core's training loop resumes from the same checkpoint: it starts at `step`, trains one step, saves it.
      const model = Transformer.create(config);
      const trainer = new Trainer(model, { totalSteps: step + 1, seed: 2 });
      const seen: number[] = [];
      const report = await trainLoop({
        plugin: 'kill-test',
        trainer,
        checkpointDir: dir,
        keepLast: KEEP_LAST,
        progress: (e) => seen.push(e.step),
        loss: () => ({ loss: tf.neg(tf.mean(tf.max(tf.logSoftmax(model.forward(data).logits), -1))) as tf.Scalar }),
      });
      expect(seen).toEqual([step + 1]);
      expect(report.steps).toBe(step + 1);
      trainer.dispose();
      model.dispose();
      // Its save removed every leftover and pruned to keepLast.
      expect(fs.readdirSync(dir).sort()).toEqual([POINTER_FILE, ...(await listStepFolders(dir)).map((f) => f.name)].sort());
      expect((await listStepFolders(dir)).length).toBeLessThanOrEqual(KEEP_LAST);
      r.trainLoopResumes += 1;
      expectedResume = step + 1;
      parentSteps.add(step + 1);
    }
  }
  return r;
}

describe('checkpoints under SIGKILL', () => {
  it(`should load the last completed step and resume from it after each of ${KILLS} kills in a tight save loop, leaving no litter`, async () => {
    ensureBackend();
    const child = writeChild(fs.mkdtempSync(path.join(root, 'child-')));
    const data = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 1]], undefined, 'int32');
    // Independent directories side by side, so that one child's start-up overlaps another's saves.
    const settled = await Promise.allSettled(Array.from({ length: LANES }, (_, i) => lane(child, path.join(root, `ck${i}`), KILLS / LANES, new Rng(14 + i), data)));
    data.dispose();
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const results = settled.map((s) => (s as PromiseFulfilledResult<LaneResult>).value);
    const sum = (f: (r: LaneResult) => number) => results.reduce((a, r) => a + f(r), 0);
    console.log(
      `kill test: ${KILLS} kills; ${sum((r) => r.childSaves)} saves completed by children; ${sum((r) => r.midSave)} kills left a save half done; ` +
        `${sum((r) => r.unreported)} came after a save completed but before it was reported; ${sum((r) => r.trainLoopResumes)} trainLoop resumes`,
    );
    // The kills did land inside saves (otherwise the test would prove little), and every child completed
    // at least the save it was killed after. Kills mid-save measured 230–242 of 300 (idle, beside three
    // busy processes, and in CI's two test steps); the bound is within 3× of that.
    expect(sum((r) => r.midSave)).toBeGreaterThanOrEqual(KILLS / 3);
    expect(results.every((r) => r.childSaves >= KILLS / LANES)).toBe(true);
  });
});
