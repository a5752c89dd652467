import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZooError } from './errors.js';

/*
 * Where compiled graphs live on disk, safely. A TensorFlow graph can read and write files, so a graph
 * file is code: loading one that someone else wrote runs their code with the user's rights. Hence:
 * - the folder is the user's own (`$REGIME_ZOO_GRAPH_DIR`, else `<cache>/regime-zoo/graphs`: never a
 *   shared temporary folder), owned by the user and mode 0700, so other users can neither plant nor swap
 *   a file;
 * - each graph sits in a folder named by the SHA-256 of its bytes, holding exactly `saved_model.pb`, and
 *   is loaded only after its bytes are read back and hash to that name; anything else under that name
 *   (other bytes, extra files, a symlink) is moved aside and replaced, never loaded;
 * - a folder is written whole under a temporary name and renamed into place, so a reader never sees a
 *   half-written graph and processes compiling the same graph at once agree (the first rename wins, the
 *   others find the same bytes there).
 */

const FILE = 'saved_model.pb';

/** The graph cache folder: `$REGIME_ZOO_GRAPH_DIR`, else `graphs` under `$REGIME_ZOO_CACHE_DIR` (default `$XDG_CACHE_HOME/regime-zoo` or `~/.cache/regime-zoo`). */
export function graphCacheDir(): string {
  const env = process.env;
  if (env.REGIME_ZOO_GRAPH_DIR) return path.resolve(env.REGIME_ZOO_GRAPH_DIR);
  const cache = env.REGIME_ZOO_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'regime-zoo');
  return path.join(path.resolve(cache), 'graphs');
}

/** The name a graph's folder has: the hex SHA-256 of its SavedModel bytes. */
export function graphName(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const fix = 'set REGIME_ZOO_GRAPH_DIR to a folder of your own, or REGIME_ZOO_GRAPH=0 to run without compiled graphs';

/** The cache folder, created (mode 0700) if missing, checked to be the user's own and made private. */
function privateRoot(): string {
  const wanted = graphCacheDir();
  let root: string;
  try {
    fs.mkdirSync(wanted, { recursive: true, mode: 0o700 });
    root = fs.realpathSync(wanted);
  } catch (e) {
    throw new ZooError('ENV_ERROR', `could not create the compiled-graph folder ${wanted}: ${(e as Error).message}; ${fix}`, { field: wanted, cause: e });
  }
  const st = fs.statSync(root);
  if (!st.isDirectory()) throw new ZooError('ENV_ERROR', `the compiled-graph folder ${root} is not a folder; ${fix}`, { field: root });
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new ZooError('ENV_ERROR', `the compiled-graph folder ${root} belongs to user ${st.uid}, not to you (${uid}): graphs there could have been written by someone else; ${fix}`, { field: root });
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) fs.chmodSync(root, 0o700);
  return root;
}

/** Whether `dir` is a real folder of ours holding exactly `saved_model.pb` whose bytes hash to `name`. */
function holds(dir: string, name: string): boolean {
  try {
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) return false;
    const entries = fs.readdirSync(dir);
    if (entries.length !== 1 || entries[0] !== FILE) return false;
    const file = path.join(dir, FILE);
    if (!fs.lstatSync(file).isFile()) return false;
    return graphName(fs.readFileSync(file)) === name;
  } catch {
    return false;
  }
}

const unique = (): string => `${process.pid}-${randomBytes(6).toString('hex')}`;

/** Moves whatever is at `target` out of the way and deletes it (a file, a folder or a symlink). */
function evict(root: string, target: string): void {
  const trash = path.join(root, `.evicted-${unique()}`);
  try {
    fs.renameSync(target, trash);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  fs.rmSync(trash, { recursive: true, force: true });
}

/**
 * The folder holding the SavedModel `bytes`, ready to load: `<cache>/<sha256>/saved_model.pb`, verified
 * to hold exactly these bytes (written now if missing; replaced if it holds anything else).
 */
export function savedModelFolder(bytes: Uint8Array): string {
  const name = graphName(bytes);
  const root = privateRoot();
  const dir = path.join(root, name);
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      if (holds(dir, name)) return dir;
      if (fs.existsSync(dir) || isLink(dir)) evict(root, dir);
      const stage = fs.mkdtempSync(path.join(root, `.stage-${name.slice(0, 12)}-`));
      try {
        fs.writeFileSync(path.join(stage, FILE), bytes, { mode: 0o600, flag: 'wx' });
        fs.renameSync(stage, dir);
        return dir;
      } catch (e) {
        fs.rmSync(stage, { recursive: true, force: true });
        // Another process renamed its folder in first (or something else appeared): check it again.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR' && code !== 'EISDIR' && code !== 'EPERM') throw e;
      }
    }
  } catch (e) {
    throw new ZooError('ENV_ERROR', `could not write a compiled graph to ${dir}: ${(e as Error).message}; ${fix}`, { field: path.join(dir, FILE), cause: e });
  }
  throw new ZooError('ENV_ERROR', `${dir} kept changing while a compiled graph was written there; ${fix}`, { field: path.join(dir, FILE) });
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
