#!/usr/bin/env node
// Provisions the native TensorFlow backend (@tensorflow/tfjs-node) for @regime-zoo/core.
//
//   1. official: tfjs-node's own install script (downloads libtensorflow 2.9.1 and a prebuilt addon);
//   2. wheel:    build the addon against the TensorFlow C library inside a `tensorflow-cpu` wheel, taken
//                from $REGIME_ZOO_LIBTENSORFLOW_DIR (an unpacked library or a folder holding a wheel),
//                from the cache, or fetched with `pip download` (pip's own index / find-links);
//   3. fallback: print what was tried and how to fix it, and exit 0 so the install finishes; core then
//                runs on the pure-JS `cpu` backend and warns loudly.
//
// The unpacked library is cached in $REGIME_ZOO_CACHE_DIR (default ~/.cache/regime-zoo), never in the
// repository. What happened is written to <tfjs-node>/regime-zoo-native.json, which `zoo doctor` reads.
//
// Environment: REGIME_ZOO_LIBTENSORFLOW_DIR, REGIME_ZOO_CACHE_DIR, REGIME_ZOO_SKIP_OFFICIAL=1 (skip step 1),
// REGIME_ZOO_SKIP_NATIVE=1 (do nothing), REGIME_ZOO_FORCE_NATIVE=1 (rebuild even if a binding loads),
// REGIME_ZOO_DOWNLOAD_TIMEOUT_MS (step 1's time limit, default 300000), REGIME_ZOO_NO_AUTO_INSTALL=1 (when
// run by hand and tfjs-node is missing, do not `npm install` it into the current project).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFusedOps } from './build-fused-ops.mjs';

const TAG = '[regime-zoo native]';
const log = (msg) => console.error(`${TAG} ${msg}`);
const STATUS_FILE = 'regime-zoo-native.json';
const env = process.env;

if (env.REGIME_ZOO_SKIP_NATIVE === '1') {
  log('REGIME_ZOO_SKIP_NATIVE=1: not provisioning the native backend.');
  process.exit(0);
}

const cacheRoot = env.REGIME_ZOO_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'regime-zoo');
const attempts = [];
const started = Date.now();

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'noop.js'));
const resolveTfjsNode = () => {
  try {
    return path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return undefined;
  }
};
let tfnDir = resolveTfjsNode();
const duringInstall = ['preinstall', 'install', 'postinstall'].includes(env.npm_lifecycle_event ?? '');
if (!tfnDir && !duringInstall && env.REGIME_ZOO_NO_AUTO_INSTALL !== '1') {
  // Run by hand (`npx regime-zoo-native`) after npm dropped the optional dependency because its download
  // failed: install it into the current project without its download script, then build it below.
  const corePkg = JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8'));
  const spec = `@tensorflow/tfjs-node@${corePkg.optionalDependencies['@tensorflow/tfjs-node']}`;
  log(`@tensorflow/tfjs-node is missing: running \`npm install --ignore-scripts ${spec}\` in ${process.cwd()} ...`);
  const r = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', spec], { stdio: 'inherit' });
  if (r.status === 0) tfnDir = resolveTfjsNode();
  if (!tfnDir) attempts.push({ route: 'npm', ok: false, detail: `npm install --ignore-scripts ${spec} ${r.status === 0 ? 'did not make it resolvable from @regime-zoo/core' : `exited ${r.status}`}` });
}
if (!tfnDir) {
  fallback([...attempts.map((a) => `${a.route}: ${a.detail}`), '@tensorflow/tfjs-node is not installed (it is an optional dependency of @regime-zoo/core).'], null);
}


/** Loads tfjs-node in a child process; returns null when it works, else the error text. */
function loadError() {
  const code = `const tf=require(${JSON.stringify(tfnDir)});if(tf.getBackend()!=='tensorflow')throw new Error('backend is '+tf.getBackend());`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...env, TF_CPP_MIN_LOG_LEVEL: '3' } });
  if (r.status === 0) return null;
  const lines = (r.stderr || '').split('\n').filter((l) => /Error|error:/.test(l));
  return lines[0]?.trim() || `exit code ${r.status}`;
}

function writeStatus(status) {
  try {
    fs.writeFileSync(path.join(tfnDir, STATUS_FILE), JSON.stringify({ ...status, attempts, at: new Date().toISOString() }, null, 2) + '\n');
  } catch (e) {
    log(`could not write ${STATUS_FILE}: ${e.message}`);
  }
}

/** Builds core's fused kernels against the library the binding now loads (build-fused-ops.mjs). */
function fusedOps() {
  const r = buildFusedOps(tfnDir);
  log(`fused kernels: ${r.detail}${r.ok ? '' : " (the graphs will use TensorFlow's own ops)"}`);
  return r;
}

function done(source, extra = {}) {
  writeStatus({ ok: true, source, ...extra, fusedOps: fusedOps() });
  log(`native backend ready (${source}) in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  process.exit(0);
}

function fallback(lines, dir) {
  const msg = [
    '',
    '='.repeat(78),
    `${TAG} COULD NOT PROVISION THE NATIVE TENSORFLOW BACKEND.`,
    'regime-zoo will run on the pure-JS "cpu" backend, which is about 100x slower.',
    'What was tried:',
    ...lines.map((l) => `  - ${l}`),
    'To fix it, do one of these and install again (or run `npx regime-zoo-native`):',
    '  - allow tfjs-node to download libtensorflow (https://storage.googleapis.com), or',
    '  - make `pip download --no-deps tensorflow-cpu` work (pip index or find-links), or',
    '  - set REGIME_ZOO_LIBTENSORFLOW_DIR to a folder holding a tensorflow-cpu wheel (.whl) or its',
    '    unpacked libtensorflow_cc.so.2, libtensorflow_framework.so.2 and include/.',
    '`npx zoo doctor` (`pnpm run doctor` in the workspace) shows which backend is active and why.',
    '='.repeat(78),
    '',
  ];
  console.error(msg.join('\n'));
  if (dir) writeStatus({ ok: false, source: 'cpu-fallback' });
  process.exit(0);
}

if (env.REGIME_ZOO_FORCE_NATIVE !== '1') {
  const err = loadError();
  if (err === null) {
    log('tfjs-node already loads with the native backend.');
    fusedOps();
    process.exit(0);
  }
}

const nodedir = env.npm_config_nodedir || (fs.existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
const binPaths = [path.join(tfnDir, 'node_modules', '.bin'), path.join(tfnDir, '..', '..', '.bin')];
const buildEnv = {
  ...env,
  PATH: [...binPaths, env.PATH].join(path.delimiter),
  ...(nodedir ? { npm_config_nodedir: nodedir } : {}),
};

function runInstallScript(timeout, args = []) {
  return spawnSync(process.execPath, [path.join(tfnDir, 'scripts', 'install.js'), ...args], {
    cwd: tfnDir,
    env: buildEnv,
    encoding: 'utf8',
    timeout,
  });
}

/** The most telling line of a child's output: its last error line, else its last line. */
function tail(r) {
  const lines = `${r.stdout || ''}\n${r.stderr || ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const pick = lines.find((l) => /^\w*Error\b.*:/.test(l)) ?? lines.filter((l) => /error|timed out/i.test(l)).at(-1);
  return (pick ?? lines.at(-1) ?? '').slice(0, 240);
}

// ---- 1. official ----------------------------------------------------------------------------
if (env.REGIME_ZOO_SKIP_OFFICIAL === '1') {
  attempts.push({ route: 'official', ok: false, detail: 'skipped (REGIME_ZOO_SKIP_OFFICIAL=1)' });
} else {
  log("trying tfjs-node's own install (downloads libtensorflow)...");
  // 'cpu download' makes it fetch libtensorflow even when deps/ is already staged.
  const r = runInstallScript(Number(env.REGIME_ZOO_DOWNLOAD_TIMEOUT_MS || 300000), ['cpu', 'download']);
  const err = r.status === 0 ? loadError() : `install script exited with ${r.status ?? r.signal}: ${tail(r)}`;
  attempts.push({ route: 'official', ok: err === null, detail: err ?? 'ok' });
  if (err === null) done('official', { libtensorflow: path.join(tfnDir, 'deps', 'lib'), tensorflowVersion: '2.9.1' });
  log(`official install failed: ${err}`);
}

// ---- 2. wheel -------------------------------------------------------------------------------
const LIBS = { cc: 'libtensorflow_cc.so.2', fw: 'libtensorflow_framework.so.2' };

/** A folder is an unpacked library if it holds both .so files and the C API header. */
function unpackedAt(dir) {
  const lib = [dir, path.join(dir, 'lib')].find((d) => fs.existsSync(path.join(d, LIBS.cc)) && fs.existsSync(path.join(d, LIBS.fw)));
  const inc = [path.join(dir, 'include'), dir].find((d) => fs.existsSync(path.join(d, 'tensorflow', 'c', 'c_api.h')));
  return lib && inc ? { lib, include: inc } : null;
}

function findWheel(dir) {
  if (!fs.existsSync(dir)) return null;
  const w = fs.readdirSync(dir).filter((f) => /^tensorflow(_cpu)?-[\d.]+-.*\.whl$/.test(f)).sort();
  return w.length ? path.join(dir, w[w.length - 1]) : null;
}

/** Unpacks the libraries and headers of a wheel into the cache (atomically) and returns the folder. */
function unpackWheel(wheel) {
  const name = path.basename(wheel).split('-').slice(0, 2).join('-'); // tensorflow_cpu-2.21.0
  const dest = path.join(cacheRoot, 'libtensorflow', name);
  const ready = unpackedAt(dest);
  if (ready) return { ...ready, version: name.split('-')[1], cached: true };
  log(`unpacking ${path.basename(wheel)} into ${dest} ...`);
  const AdmZip = createRequire(path.join(tfnDir, 'package.json'))('adm-zip');
  const zip = new AdmZip(wheel);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'lib'), { recursive: true });
  let headers = 0;
  for (const e of zip.getEntries()) {
    const n = e.entryName;
    if (n === `tensorflow/${LIBS.cc}` || n === `tensorflow/${LIBS.fw}`) {
      fs.writeFileSync(path.join(tmp, 'lib', path.basename(n)), e.getData());
    } else if (n.startsWith('tensorflow/include/') && !e.isDirectory) {
      const out = path.join(tmp, 'include', n.slice('tensorflow/include/'.length));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, e.getData());
      headers++;
    }
  }
  const got = unpackedAt(tmp);
  if (!got) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${path.basename(wheel)} holds no ${LIBS.cc}/${LIBS.fw} and tensorflow/c/c_api.h`);
  }
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  log(`unpacked 2 libraries and ${headers} headers.`);
  return { ...unpackedAt(dest), version: name.split('-')[1], cached: false };
}

/** Downloads a wheel with pip into a temporary folder (deleted once unpacked). */
function pipDownload(dir) {
  for (const py of ['python3', 'python']) {
    log(`fetching a tensorflow-cpu wheel with \`${py} -m pip download\` ...`);
    const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', 'tensorflow-cpu', '-d', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.error) {
      attempts.push({ route: 'pip', ok: false, detail: `${py}: ${r.error.message}` });
      continue; // no such interpreter: try the next name
    }
    const wheel = findWheel(dir);
    if (r.status === 0 && wheel) return wheel;
    attempts.push({ route: 'pip', ok: false, detail: `${py} -m pip download tensorflow-cpu exited ${r.status}: ${tail(r)}` });
    return null;
  }
  return null;
}

/** The newest complete library already unpacked in the cache, if any. */
function cached() {
  const root = path.join(cacheRoot, 'libtensorflow');
  if (!fs.existsSync(root)) return null;
  const names = fs.readdirSync(root).filter((n) => /^tensorflow(_cpu)?-[\d.]+$/.test(n));
  names.sort((a, b) => a.split('-')[1].localeCompare(b.split('-')[1], undefined, { numeric: true }));
  for (const n of names.reverse()) {
    const u = unpackedAt(path.join(root, n));
    if (u) return { ...u, version: n.split('-')[1], cached: true, from: `cache ${path.join(root, n)}` };
  }
  return null;
}

function locateLibrary() {
  const userDir = env.REGIME_ZOO_LIBTENSORFLOW_DIR;
  if (userDir) {
    const u = unpackedAt(userDir);
    if (u) return { ...u, version: 'unknown', from: `REGIME_ZOO_LIBTENSORFLOW_DIR=${userDir}` };
    const w = findWheel(userDir);
    if (w) return { ...unpackWheel(w), from: w };
    attempts.push({ route: 'dir', ok: false, detail: `REGIME_ZOO_LIBTENSORFLOW_DIR=${userDir} holds neither a tensorflow-cpu wheel nor ${LIBS.cc}, ${LIBS.fw} and include/` });
  }
  const hit = cached();
  if (hit) return hit;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'regime-zoo-wheel-'));
  try {
    const w = pipDownload(tmp);
    return w ? { ...unpackWheel(w), from: `pip: ${path.basename(w)}` } : null;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function link(target, name) {
  fs.rmSync(name, { force: true, recursive: true });
  fs.symlinkSync(target, name);
}

function stageDeps(found) {
  const deps = path.join(tfnDir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(path.join(deps, 'lib'), { recursive: true });
  link(path.resolve(found.include), path.join(deps, 'include'));
  const cc = path.resolve(found.lib, LIBS.cc);
  const fw = path.resolve(found.lib, LIBS.fw);
  // tfjs-node 4.22 links against libtensorflow 2.9.1 by these names; the wheel's C API is compatible.
  for (const n of ['libtensorflow.so.2.9.1', 'libtensorflow.so', LIBS.cc]) link(cc, path.join(deps, 'lib', n));
  for (const n of ['libtensorflow_framework.so.2.9.1', 'libtensorflow_framework.so', LIBS.fw]) link(fw, path.join(deps, 'lib', n));
}

if (os.platform() !== 'linux' || os.arch() !== 'x64') {
  attempts.push({ route: 'wheel', ok: false, detail: `the wheel route supports linux-x64 only, not ${os.platform()}-${os.arch()}` });
} else {
  try {
    const found = locateLibrary();
    if (!found) {
      attempts.push({ route: 'wheel', ok: false, detail: 'no tensorflow-cpu wheel or unpacked library found' });
    } else {
      log(`building the tfjs-node binding against ${found.lib} (${found.cached ? 'cached' : 'fresh'}) ...`);
      stageDeps(found);
      const r = runInstallScript(15 * 60 * 1000);
      const err = r.status === 0 ? loadError() : `build exited with ${r.status ?? r.signal}: ${tail(r)}`;
      attempts.push({ route: 'wheel', ok: err === null, detail: err ?? `built against ${found.from}` });
      if (err === null) {
        done('wheel', { libtensorflow: found.lib, tensorflowVersion: found.version, from: found.from, cached: Boolean(found.cached) });
      }
      log(`wheel build failed: ${err}`);
    }
  } catch (e) {
    attempts.push({ route: 'wheel', ok: false, detail: e.message });
  }
}

// ---- 3. fallback ----------------------------------------------------------------------------
fallback(attempts.map((a) => `${a.route}: ${a.detail}`), tfnDir);
