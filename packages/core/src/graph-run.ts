import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { ZooError } from './errors.js';
import { savedModelFolder } from './graph-cache.js';
import type { GNode, GraphBuilder } from './graph.js';

// Loading and running the graphs graph.ts builds: the SavedModel binding of tfjs-node, one loaded session
// per distinct graph shared by reference-counted handles, and programs with a session per `open()`.

interface SavedModelBackend {
  loadSavedModelMetaGraph(path: string, tags: string): number;
  deleteSavedModel(id: number): void;
  runSavedModel(id: number, inputs: tf.Tensor[], infos: { name: string; dtype: string; tfDtype: string }[], outputs: string[]): tf.Tensor[];
}

let graphOverride: boolean | undefined;

/** Turns compiled graphs off (`false`) or back to automatic (`undefined`), e.g. to compare with the eager path. */
export function setGraphMode(enabled: boolean | undefined): void {
  graphOverride = enabled;
}

/** Whether compiled graphs run here: the native backend, and not turned off (`REGIME_ZOO_GRAPH=0` or `setGraphMode(false)`). */
export function graphAvailable(): boolean {
  if (graphOverride === false) return false;
  if (graphOverride === undefined && process.env.REGIME_ZOO_GRAPH === '0') return false;
  return tf.getBackend() === 'tensorflow' && typeof (tf.backend() as unknown as Partial<SavedModelBackend>).runSavedModel === 'function';
}

/**
 * A graph loaded into TensorFlow: `run` feeds the inputs in declaration order and returns the outputs.
 * Every `compileGraph` call returns its own handle; the loaded graph is unloaded when the last handle
 * is released.
 */
export interface CompiledGraph {
  run(inputs: readonly tf.Tensor[]): tf.Tensor[];
  /** Gives this handle up (idempotent); a released handle must not be run. */
  release(): void;
}

interface LoadedGraph {
  run: (inputs: readonly tf.Tensor[]) => tf.Tensor[];
  id: number;
  refs: number;
}

// Loaded graphs by content (bytes and outputs), shared by all handles to the same graph.
const loaded = new Map<string, LoadedGraph>();
// SavedModel sessions currently loaded in TensorFlow (graphs and program sessions): `graphStats`.
let liveSessions = 0;

/** How many compiled graphs and TensorFlow sessions this process holds (for tests of memory bounds). */
export function graphStats(): { graphs: number; sessions: number } {
  return { graphs: loaded.size, sessions: liveSessions };
}

const backendOf = (): SavedModelBackend => tf.backend() as unknown as SavedModelBackend;

/** Loads the SavedModel `bytes` from the graph cache (graph-cache.ts: verified against its hash first). */
function loadSession(backend: SavedModelBackend, bytes: Uint8Array): number {
  let id: number;
  try {
    id = backend.loadSavedModelMetaGraph(savedModelFolder(bytes), 'serve');
  } catch (e) {
    if (e instanceof ZooError) throw e;
    // Another process may have been replacing a bad folder under the same name at that moment: once more.
    id = backend.loadSavedModelMetaGraph(savedModelFolder(bytes), 'serve');
  }
  liveSessions += 1;
  return id;
}

function unloadSession(backend: SavedModelBackend, id: number): void {
  backend.deleteSavedModel(id);
  liveSessions -= 1;
}

const tensorInfo = (i: GNode): { name: string; dtype: string; tfDtype: string } => ({
  name: i.tensorName,
  dtype: i.dtype,
  tfDtype: i.dtype === 'int32' ? 'DT_INT32' : i.dtype === 'bool' ? 'DT_BOOL' : 'DT_FLOAT',
});

/** One way into a graph: the placeholders it feeds, in order, and the outputs it returns. */
interface Entry {
  inputs: readonly GNode[];
  outputs: readonly GNode[];
}

function runner(backend: SavedModelBackend, id: number, e: Entry): (inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  const infos = e.inputs.map(tensorInfo);
  const outNames = e.outputs.map((o) => o.tensorName);
  return (inputs) => {
    if (inputs.length !== infos.length) throw new ZooError('INTERNAL', `compiled graph takes ${infos.length} inputs, got ${inputs.length}`);
    // Outputs are registered with the engine like any op's, so tf.tidy sees them.
    return backend.runSavedModel(id, inputs as tf.Tensor[], infos, outNames);
  };
}

/**
 * Loads the graph with the given outputs and returns a handle to it. The SavedModel is written once per
 * distinct graph (graph-cache.ts); equal graphs share one loaded session, unloaded when every handle to
 * it has been released.
 */
export function compileGraph(g: GraphBuilder, outputs: readonly GNode[]): CompiledGraph {
  const bytes = g.serialize();
  const key = createHash('sha256').update(bytes).update(outputs.map((o) => o.tensorName).join(',')).digest('hex');
  let entry = loaded.get(key);
  if (!entry) {
    const backend = backendOf();
    const id = loadSession(backend, bytes);
    entry = { run: runner(backend, id, { inputs: g.inputs, outputs }), id, refs: 0 };
    loaded.set(key, entry);
  }
  entry.refs += 1;
  const shared = entry;
  let live = true;
  return {
    run(inputs) {
      if (!live) throw new ZooError('INTERNAL', 'compiled graph used after release()');
      return shared.run(inputs);
    },
    release() {
      if (!live) return;
      live = false;
      shared.refs -= 1;
      if (shared.refs === 0) {
        loaded.delete(key);
        unloadSession(backendOf(), shared.id);
      }
    },
  };
}

/** A session of a `GraphProgram`: its own copy of the program's variables. */
export interface GraphSession<E extends string> {
  run(entry: E, inputs: readonly tf.Tensor[]): tf.Tensor[];
  /** Releases the session and its variables. */
  close(): void;
}

/** A graph with variables and several entries; each `open()` loads a session with its own variables. */
export interface GraphProgram<E extends string> {
  open(): GraphSession<E>;
}

/** Serializes the graph; each `open()` loads a session of it from the graph cache (see `GraphProgram`). */
export function compileProgram<E extends string>(g: GraphBuilder, entries: Record<E, Entry>): GraphProgram<E> {
  const bytes = g.serialize();
  return {
    open() {
      const backend = backendOf();
      const id = loadSession(backend, bytes);
      const runs = Object.fromEntries(Object.entries<Entry>(entries).map(([name, e]) => [name, runner(backend, id, e)])) as Record<E, ReturnType<typeof runner>>;
      let open = true;
      return {
        run(entry, inputs) {
          if (!open) throw new ZooError('INTERNAL', 'graph session used after close()');
          return runs[entry](inputs);
        },
        close() {
          if (open) unloadSession(backend, id);
          open = false;
        },
      };
    },
  };
}
