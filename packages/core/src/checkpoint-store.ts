// The on-disk layout of a checkpoint directory, with no tensors involved (the SIGKILL test runs this file
// in child processes that do not load TensorFlow).
//
//   dir/
//     latest.json            pointer to the newest complete checkpoint, replaced atomically (rename)
//     step-00000040/         model.json + weights.bin, complete by construction (written as a .tmp-
//     step-00000050/         folder, fsynced, then renamed into place)
//
// A kill at any instant leaves `latest.json` naming a complete folder (or, before the first save, no
// pointer). What a killed save leaves behind (`*.tmp-*` folders and files, `*.del-*` folders being
// pruned) is removed by the next save.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ZooError } from './errors.js';

export const POINTER_FILE = 'latest.json';
export const POINTER_FORMAT = 'regime-zoo-checkpoint-pointer';
/** Checkpoints kept by default: the newest and the one before it (a fallback if the newest is damaged). */
export const DEFAULT_KEEP_LAST = 2;

const STEP_FOLDER = /^step-(\d{8,})(?:-(\d+))?$/;
const LITTER = /\.(tmp|del)-/;

export interface StepFolder {
  name: string;
  step: number;
  /** 0 for the first save at a step, 1, 2, ... for later saves at the same step. */
  seq: number;
}

/** Where `loadCheckpoint(dir)` reads from, and which layout `dir` has. */
export interface FoundCheckpoint {
  /** The folder holding model.json and weights.bin. */
  folder: string;
  /**
   * `pointer`: named by dir/latest.json; `scan`: the newest step folder (no pointer yet); `single`: dir itself
   * holds model.json (a step folder, or the layout of core ≤ 0.1); `recovered`: a `<dir>.tmp-*`/`<dir>.old-*`
   * sibling left by a save of core ≤ 0.1 that was killed mid-swap.
   */
  layout: 'pointer' | 'scan' | 'single' | 'recovered';
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function stepFolderName(step: number, seq: number): string {
  return `step-${String(step).padStart(8, '0')}${seq > 0 ? `-${seq}` : ''}`;
}

function parseStepFolder(name: string): StepFolder | undefined {
  const m = STEP_FOLDER.exec(name);
  return m ? { name, step: Number(m[1]), seq: Number(m[2] ?? 0) } : undefined;
}

const byAge = (a: StepFolder, b: StepFolder): number => a.step - b.step || a.seq - b.seq;

async function entries(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Complete step folders of `dir` (those holding model.json), oldest first. */
export async function listStepFolders(dir: string): Promise<StepFolder[]> {
  const found: StepFolder[] = [];
  for (const name of await entries(dir)) {
    const f = parseStepFolder(name);
    if (f && (await isFile(path.join(dir, name, 'model.json')))) found.push(f);
  }
  return found.sort(byAge);
}

/** Names in `dir` that a killed save left behind. */
export async function listLitter(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((n) => LITTER.test(n));
}

async function writeSynced(file: string, data: Uint8Array | string): Promise<void> {
  const h = await fs.open(file, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Makes a rename inside `dir` durable (a power cut, not only a kill). Not possible everywhere (Windows). */
async function syncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, 'r');
    await h.sync();
  } catch {
    // directories cannot be opened or fsynced on this platform
  } finally {
    await h?.close().catch(() => {});
  }
}

// Temporary names of saves running in this process, which litter removal must not touch.
const inFlight = new Set<string>();
let counter = 0;
const tmpSuffix = (kind: 'tmp' | 'del'): string => `.${kind}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

/** Removes what killed saves left in `dir` (`*.tmp-*` / `*.del-*` entries); returns the names removed. */
export async function removeLitter(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listLitter(dir)) {
    const p = path.join(dir, name);
    if (inFlight.has(p)) continue;
    await fs.rm(p, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

async function legacySiblings(dir: string): Promise<string[]> {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-\\d+-\\d+$`);
  return (await entries(parent)).filter((n) => pattern.test(n)).map((n) => path.join(parent, n));
}

export interface WriteCheckpointOptions {
  step: number;
  /** model.json's contents; `files` (size and sha256 of weights.bin) is added here. */
  meta: Record<string, unknown>;
  weights: Uint8Array;
  /** Step folders to keep (the newest ones); default 2. The folder just written is always kept. */
  keepLast?: number;
}

/**
 * Writes a new step folder in `dir` and points `dir/latest.json` at it. Order: remove litter of killed
 * saves; write weights.bin and model.json (with weights.bin's sha256) into `step-N.tmp-*`, fsync; rename
 * to `step-N`; write `latest.json.tmp-*`, fsync, rename over `latest.json`; prune the oldest step
 * folders beyond `keepLast` (renamed to `.del-*` first, so a half-deleted folder never looks complete);
 * remove the single-folder layout's model.json/weights.bin if `dir` had them. Returns the folder and
 * the model.json written.
 */
export async function writeCheckpointDir(dir: string, o: WriteCheckpointOptions): Promise<{ folder: string; meta: Record<string, unknown> }> {
  const keepLast = o.keepLast ?? DEFAULT_KEEP_LAST;
  if (!Number.isInteger(keepLast) || keepLast < 1) {
    throw new ZooError('OPTION_INVALID', `keepLast must be an integer ≥ 1 (the number of step folders kept), got ${keepLast}`, { field: 'keepLast' });
  }
  if (!Number.isInteger(o.step) || o.step < 0) throw new ZooError('INTERNAL', `checkpoint step must be an integer ≥ 0, got ${o.step}`, { field: 'step' });
  const abs = path.resolve(dir);
  if (parseStepFolder(path.basename(abs))) {
    throw new ZooError('OPTION_INVALID', `${abs} is a step folder of a checkpoint directory; save to the directory itself (${path.dirname(abs)}), which keeps the step folders`, { field: abs });
  }
  await fs.mkdir(abs, { recursive: true });
  await removeLitter(abs);

  // Before writing: drop complete folders a killed save renamed into place but never pointed at (newer
  // than the pointer's), and prune to keepLast, so that repeated kills cannot pile folders up.
  const current = await pointedFolder(abs);
  if (current) {
    const at = parseStepFolder(current);
    for (const f of await listStepFolders(abs)) if (at && byAge(f, at) > 0) await removeFolder(path.join(abs, f.name));
  }
  await prune(abs, keepLast, current);

  // Every step-named entry counts for the name, complete or not, so the new folder's name is free.
  const sameStep = (await entries(abs)).map(parseStepFolder).filter((f): f is StepFolder => f?.step === o.step);
  const seq = sameStep.length ? Math.max(...sameStep.map((f) => f.seq)) + 1 : 0;
  const name = stepFolderName(o.step, seq);
  const folder = path.join(abs, name);
  const tmp = `${folder}${tmpSuffix('tmp')}`;
  const meta = { ...o.meta, files: { 'weights.bin': { bytes: o.weights.byteLength, sha256: sha256(o.weights) } } };
  inFlight.add(tmp);
  try {
    await fs.mkdir(tmp);
    await writeSynced(path.join(tmp, 'weights.bin'), o.weights);
    await writeSynced(path.join(tmp, 'model.json'), JSON.stringify(meta, null, 1));
    await syncDir(tmp);
    await fs.rename(tmp, folder);
    await syncDir(abs);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw new ZooError('INTERNAL', `could not write checkpoint ${folder}: ${(e as Error).message}`, { cause: e, field: folder });
  } finally {
    inFlight.delete(tmp);
  }

  const pointer = path.join(abs, POINTER_FILE);
  const pointerTmp = `${pointer}${tmpSuffix('tmp')}`;
  inFlight.add(pointerTmp);
  try {
    await writeSynced(pointerTmp, JSON.stringify({ format: POINTER_FORMAT, version: 1, folder: name, step: o.step }));
    await fs.rename(pointerTmp, pointer);
    await syncDir(abs);
  } catch (e) {
    await fs.rm(pointerTmp, { force: true }).catch(() => {});
    throw new ZooError('INTERNAL', `could not update ${pointer}: ${(e as Error).message}`, { cause: e, field: pointer });
  } finally {
    inFlight.delete(pointerTmp);
  }

  await prune(abs, keepLast, name);
  // A checkpoint written by core ≤ 0.1 directly into dir, or left beside it by a killed swap, is superseded now.
  for (const f of ['model.json', 'weights.bin']) await fs.rm(path.join(abs, f), { force: true });
  for (const p of await legacySiblings(abs)) await fs.rm(p, { recursive: true, force: true });
  return { folder, meta };
}

/** Deletes a step folder by renaming it to `.del-*` first, so that a half-deleted folder never looks complete. */
async function removeFolder(p: string): Promise<void> {
  const doomed = `${p}${tmpSuffix('del')}`;
  inFlight.add(doomed);
  try {
    await fs.rename(p, doomed);
    await fs.rm(doomed, { recursive: true, force: true });
  } finally {
    inFlight.delete(doomed);
  }
}

/** Deletes the oldest complete step folders beyond `keepLast`, never `keep`. */
async function prune(dir: string, keepLast: number, keep: string | undefined): Promise<void> {
  const all = await listStepFolders(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keepLast))) {
    if (old.name !== keep) await removeFolder(path.join(dir, old.name));
  }
}

/** The folder name `dir/latest.json` holds, if it is readable. */
async function pointedFolder(dir: string): Promise<string | undefined> {
  try {
    const p = JSON.parse(await fs.readFile(path.join(dir, POINTER_FILE), 'utf8')) as { format?: unknown; folder?: unknown };
    return p.format === POINTER_FORMAT && typeof p.folder === 'string' && parseStepFolder(p.folder) ? p.folder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the checkpoint `loadCheckpoint(dir)` reads, or `undefined` when `dir` holds none (nothing was
 * ever saved there, or every save was killed before its folder was complete). A pointer that is damaged
 * or names a missing folder fails with `CHECKPOINT_CORRUPT` naming it.
 */
export async function findCheckpoint(dir: string): Promise<FoundCheckpoint | undefined> {
  const abs = path.resolve(dir);
  const pointer = path.join(abs, POINTER_FILE);
  let text: string | undefined;
  try {
    text = await fs.readFile(pointer, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    let folder: unknown;
    try {
      const p = JSON.parse(text) as { format?: unknown; folder?: unknown };
      folder = p.format === POINTER_FORMAT ? p.folder : undefined;
    } catch {
      folder = undefined;
    }
    const others = (await listStepFolders(abs)).map((f) => f.name);
    if (typeof folder !== 'string' || !parseStepFolder(folder)) {
      throw new ZooError('CHECKPOINT_CORRUPT', `${pointer} is damaged (${JSON.stringify(text.slice(0, 80))}); delete it to load the newest step folder${others.length ? ` (${others.at(-1)})` : ''}`, {
        field: pointer,
      });
    }
    const full = path.join(abs, folder);
    if (!(await isFile(path.join(full, 'model.json')))) {
      throw new ZooError(
        'CHECKPOINT_CORRUPT',
        `${pointer} names ${folder}, but ${full} holds no model.json (deleted by hand?); ${others.length ? `delete ${POINTER_FILE} to load the newest remaining one, ${others.at(-1)}` : 'no step folder is left in this directory'}`,
        { field: pointer },
      );
    }
    return { folder: full, layout: 'pointer' };
  }
  const steps = await listStepFolders(abs);
  if (steps.length) return { folder: path.join(abs, steps.at(-1)!.name), layout: 'scan' };
  if (await isFile(path.join(abs, 'model.json'))) return { folder: abs, layout: 'single' };
  // Core ≤ 0.1 swapped folders by renaming: a kill between its two renames left dir missing, the previous
  // checkpoint in <dir>.old-* and the new, complete one in <dir>.tmp-*. Take the newest complete one.
  let best: { folder: string; step: number; rank: number } | undefined;
  for (const p of await legacySiblings(abs)) {
    try {
      const meta = JSON.parse(await fs.readFile(path.join(p, 'model.json'), 'utf8')) as { step?: unknown; weightsBytes?: unknown };
      const bytes = (await fs.stat(path.join(p, 'weights.bin'))).size;
      if (typeof meta.step !== 'number' || bytes !== meta.weightsBytes) continue;
      const rank = Number(/-(\d+)$/.exec(p)![1]) + (/\.tmp-/.test(p) ? 0.5 : 0);
      if (!best || meta.step > best.step || (meta.step === best.step && rank > best.rank)) best = { folder: p, step: meta.step, rank };
    } catch {
      // incomplete: model.json is written last
    }
  }
  return best ? { folder: best.folder, layout: 'recovered' } : undefined;
}
