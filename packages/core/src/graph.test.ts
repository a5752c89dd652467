import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maxAbsDiff, thrown } from '@regime-zoo/test-utils';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transpiledCore } from './__fixtures__/child-process.js';
import { ensureBackend } from './backend.js';
import { graphCacheDir, graphName, savedModelFolder } from './graph-cache.js';
import { GraphBuilder } from './graph.js';
import { compileGraph, compileProgram, type CompiledGraph } from './graph-run.js';

// softmax(x·W + b) over the last axis, summed over rows: a graph with a constant, a reduction and shapes.
function build(serial: boolean, scale: number) {
  const g = new GraphBuilder({ serial });
  const x = g.placeholder('x', 'float32', [-1, 3]);
  const w = g.placeholder('w', 'float32', [3, 4]);
  const b = g.placeholder('b', 'float32', [4]);
  const y = g.softmax(g.mul(g.biasAdd(g.matMul(x, w), b), scale));
  return compileGraph(g, [y, g.sum(y, [0])]);
}

describe('GraphBuilder and compileGraph (native backend)', () => {
  const dir = process.env.REGIME_ZOO_GRAPH_DIR;
  afterEach(() => {
    if (dir === undefined) delete process.env.REGIME_ZOO_GRAPH_DIR;
    else process.env.REGIME_ZOO_GRAPH_DIR = dir;
  });

  it('should compute what the same tfjs ops compute, in parallel and in serial order, and keep tensors balanced', () => {
    ensureBackend();
    const x = tf.tensor2d([[0.5, -1, 2], [1, 0, -0.5]]);
    const w = tf.tensor2d([[0.1, 0.2, -0.3, 0.4], [0.5, -0.6, 0.7, 0.8], [-0.9, 1, 0.2, 0.1]]);
    const b = tf.tensor1d([0.1, -0.1, 0.2, 0]);
    const want = tf.tidy(() => tf.softmax(tf.mul(tf.add(tf.matMul(x, w), b), 1.5)).dataSync());
    for (const serial of [false, true]) {
      const before = tf.memory().numTensors;
      const [y, total] = build(serial, 1.5).run([x, w, b]);
      expect(y!.shape).toEqual([2, 4]);
      expect(maxAbsDiff(y!.dataSync(), want)).toBeLessThan(1e-6);
      expect(maxAbsDiff(total!.dataSync(), [0, 1, 2, 3].map((j) => want[j]! + want[4 + j]!))).toBeLessThan(1e-6);
      tf.dispose([y!, total!]);
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x, w, b]);
  });

  it('should keep each session of a program its own variables, written in place by entry', () => {
    ensureBackend();
    // A counter per session: `reset` sets it to [0, 0, 0], `add` writes value v into row i and returns the sum.
    const g = new GraphBuilder();
    const counter = g.variable('counter');
    const reset = g.raw('Shape', [g.assign(counter, g.fill(g.ints([3]), 0))], { T: { type: 'float32' }, out_type: { type: 'int32' } }, 'int32')[0]!;
    const [i, v] = [g.placeholder('i', 'int32', [1]), g.placeholder('v', 'float32', [1])];
    const total = g.sum(g.scatterUpdate(counter, i, v), [0]);
    const program = compileProgram(g, { reset: { inputs: [], outputs: [reset] }, add: { inputs: [i, v], outputs: [total] } });
    const [a, b] = [program.open(), program.open()];
    const before = tf.memory().numTensors;
    const add = (s: typeof a, row: number, value: number): number =>
      tf.tidy(() => s.run('add', [tf.tensor1d([row], 'int32'), tf.tensor1d([value])])[0]!.dataSync()[0]!);
    for (const s of [a, b]) tf.dispose(s.run('reset', []));
    expect([add(a, 0, 2), add(a, 2, 5), add(b, 1, 1), add(a, 0, 1)]).toEqual([2, 7, 1, 6]);
    expect(tf.memory().numTensors).toBe(before);
    a.close();
    expect(thrown(() => a.run('add', [])).code).toBe('INTERNAL');
    expect(add(b, 2, 3)).toBe(4);
    b.close();
  });

  it('should say which folder it could not write a graph to, and how to fix it', () => {
    ensureBackend();
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-graph-'));
    const file = path.join(parent, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    process.env.REGIME_ZOO_GRAPH_DIR = file;
    try {
      const e = thrown(() => build(false, 2.25)); // a graph not loaded before in this process
      expect(e.code).toBe('ENV_ERROR');
      expect(e.message).toContain(file);
      expect(e.message).toMatch(/REGIME_ZOO_GRAPH_DIR/);
      expect(e.field).toBe(file);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('the compiled-graph cache (graph-cache.ts)', () => {
  const saved = process.env.REGIME_ZOO_GRAPH_DIR;
  let root = '';
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rz-gcache-'));
    process.env.REGIME_ZOO_GRAPH_DIR = path.join(root, 'graphs');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.REGIME_ZOO_GRAPH_DIR;
    else process.env.REGIME_ZOO_GRAPH_DIR = saved;
    fs.rmSync(root, { recursive: true, force: true });
  });

  // y = x · k: graphs that differ only in a constant, so one can be planted under the other's name.
  const times = (k: number) => {
    const g = new GraphBuilder();
    const x = g.placeholder('x', 'float32', [-1]);
    return { g, y: g.mul(x, k) };
  };
  const runTimes = (graph: CompiledGraph): number[] => tf.tidy(() => Array.from(graph.run([tf.tensor1d([1, 2])])[0]!.dataSync()));

  it('should default to a per-user cache folder, never the shared temporary folder', () => {
    delete process.env.REGIME_ZOO_GRAPH_DIR;
    const saveCache = process.env.REGIME_ZOO_CACHE_DIR;
    try {
      process.env.REGIME_ZOO_CACHE_DIR = path.join(root, 'cache');
      expect(graphCacheDir()).toBe(path.join(root, 'cache', 'graphs'));
      delete process.env.REGIME_ZOO_CACHE_DIR;
      expect(graphCacheDir().startsWith(os.homedir())).toBe(true);
      expect(graphCacheDir().startsWith(os.tmpdir())).toBe(false);
    } finally {
      if (saveCache === undefined) delete process.env.REGIME_ZOO_CACHE_DIR;
      else process.env.REGIME_ZOO_CACHE_DIR = saveCache;
    }
  });

  it('should create the folder private (0700), write each graph once under the hash of its bytes, and make an open folder private', () => {
    ensureBackend();
    const { g, y } = times(3.5);
    const graph = compileGraph(g, [y]);
    expect(runTimes(graph)).toEqual([3.5, 7]);
    graph.release();
    const dir = process.env.REGIME_ZOO_GRAPH_DIR!;
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const name = graphName(g.serialize());
    expect(fs.readdirSync(dir)).toEqual([name]);
    expect(fs.readdirSync(path.join(dir, name))).toEqual(['saved_model.pb']);
    expect(graphName(fs.readFileSync(path.join(dir, name, 'saved_model.pb')))).toBe(name);
    fs.chmodSync(dir, 0o777);
    savedModelFolder(g.serialize());
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('should never run a planted graph: a file under the right name with other bytes is replaced, so are extra files', () => {
    ensureBackend();
    const want = times(5.25);
    const name = graphName(want.g.serialize());
    const dir = path.join(process.env.REGIME_ZOO_GRAPH_DIR!, name);
    fs.mkdirSync(dir, { recursive: true });
    // A valid graph of the same shape that computes something else (x · 666), under the name of x · 5.25.
    const planted = times(666);
    fs.writeFileSync(path.join(dir, 'saved_model.pb'), planted.g.serialize());
    const graph = compileGraph(want.g, [want.y]);
    expect(runTimes(graph)).toEqual([5.25, 10.5]);
    graph.release();
    expect(Buffer.from(fs.readFileSync(path.join(dir, 'saved_model.pb'))).equals(Buffer.from(want.g.serialize()))).toBe(true);
    // The right bytes with something beside them (TensorFlow would read a variables/ folder) are replaced too.
    fs.mkdirSync(path.join(dir, 'variables'));
    fs.writeFileSync(path.join(dir, 'variables', 'variables.index'), 'x');
    expect(savedModelFolder(want.g.serialize())).toBe(dir);
    expect(fs.readdirSync(dir)).toEqual(['saved_model.pb']);
    // A symlink under the name is replaced by a folder of our own.
    const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
    fs.writeFileSync(path.join(elsewhere, 'saved_model.pb'), planted.g.serialize());
    fs.rmSync(dir, { recursive: true });
    fs.symlinkSync(elsewhere, dir);
    expect(savedModelFolder(want.g.serialize())).toBe(dir);
    expect(fs.lstatSync(dir).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(elsewhere, 'saved_model.pb')).length).toBe(planted.g.serialize().length);
  });

  it.skipIf(!process.getuid)('should refuse a cache folder that belongs to another user', () => {
    const uid = process.getuid!();
    // As root: a folder given to user 65534 (nobody); otherwise '/', which belongs to root.
    let theirs = '/';
    if (uid === 0) {
      theirs = path.join(root, 'theirs');
      fs.mkdirSync(theirs);
      fs.chownSync(theirs, 65534, 65534);
    }
    process.env.REGIME_ZOO_GRAPH_DIR = theirs;
    const e = thrown(() => savedModelFolder(times(1.5).g.serialize()));
    expect(e.code).toBe('ENV_ERROR');
    expect(e.message).toContain(`belongs to user ${fs.statSync(theirs).uid}, not to you (${uid})`);
    expect(fs.readdirSync(theirs).some((f) => /^[0-9a-f]{64}$/.test(f))).toBe(false);
  });

  it('should let two processes compile the same graphs at the same time, both getting the right results', async () => {
    const core = await transpiledCore();
    try {
      const go = path.join(root, 'go');
      // Each child loads TensorFlow, says it is ready, waits for `go`, then compiles and runs 25 new graphs.
      const script = `import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ensureBackend } from './backend.js';
import { GraphBuilder } from './graph.js';
import { compileGraph } from './graph-run.js';
ensureBackend();
fs.writeFileSync(${JSON.stringify(go)} + '.ready.' + process.pid, '');
while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 2));
const results = [];
for (let k = 0; k < 25; k++) {
  const g = new GraphBuilder();
  const graph = compileGraph(g, [g.mul(g.placeholder('x', 'float32', [-1]), 100 + k)]);
  results.push(Array.from(graph.run([tf.tensor1d([1, 2])])[0].dataSync()));
}
console.log(JSON.stringify(results));
`;
      const children = [core.run(script), core.run(script)];
      while (fs.readdirSync(root).filter((f) => f.startsWith('go.ready.')).length < 2) await new Promise((r) => setTimeout(r, 20));
      fs.writeFileSync(go, '');
      const want = Array.from({ length: 25 }, (_, k) => [100 + k, 2 * (100 + k)]);
      for (const { code, stdout, stderr } of await Promise.all(children)) {
        expect(code, stderr).toBe(0);
        expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual(want);
      }
      const dir = process.env.REGIME_ZOO_GRAPH_DIR!;
      const names = fs.readdirSync(dir);
      expect(names).toHaveLength(25); // no staging or evicted folders left behind
      for (const n of names) expect(graphName(fs.readFileSync(path.join(dir, n, 'saved_model.pb')))).toBe(n);
    } finally {
      core.dispose();
    }
  });
});
