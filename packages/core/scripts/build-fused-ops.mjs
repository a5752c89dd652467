// Builds regime-zoo's fused TensorFlow kernels (native/zoo_ops.cc) into native/build/zoo_ops.node against
// the TensorFlow C library tfjs-node links (its deps/include and deps/lib). provision-native.mjs calls
// it once the binding loads; `node scripts/build-fused-ops.mjs` rebuilds by hand. Needs a C++17 compiler
// (`$CXX`, else `c++`); without one, or without TensorFlow's C kernel headers, it says so and core's
// graphs use TensorFlow's own ops (same model, steps 17–21% slower: docs/performance.md).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const native = fileURLToPath(new URL('../native/', import.meta.url));
export const FUSED_OPS_OUTPUT = path.join(native, 'build', 'zoo_ops.node');
const SOURCES = ['zoo_ops.cc', 'kernels.h'].map((f) => path.join(native, f));

/** Compiles the kernels; returns { ok, detail }. Skips the compiler when the output is newer than its sources and the library. */
export function buildFusedOps(tfjsNodeDir) {
  const include = path.join(tfjsNodeDir, 'deps', 'include');
  const lib = path.join(tfjsNodeDir, 'deps', 'lib');
  const framework = path.join(lib, 'libtensorflow_framework.so');
  if (!fs.existsSync(path.join(include, 'tensorflow', 'c', 'kernels.h'))) return { ok: false, detail: `no TensorFlow C kernel API header in ${include}` };
  if (!fs.existsSync(framework)) return { ok: false, detail: `no libtensorflow_framework.so in ${lib}` };
  const inputs = [...SOURCES, fs.realpathSync(framework)];
  if (fs.existsSync(FUSED_OPS_OUTPUT) && inputs.every((f) => fs.statSync(f).mtimeMs < fs.statSync(FUSED_OPS_OUTPUT).mtimeMs)) {
    return { ok: true, detail: `up to date: ${FUSED_OPS_OUTPUT}` };
  }
  fs.mkdirSync(path.dirname(FUSED_OPS_OUTPUT), { recursive: true });
  const tmp = `${FUSED_OPS_OUTPUT}.${process.pid}.tmp`;
  const cxx = process.env.CXX || 'c++';
  // -fno-trapping-math lets the compiler vectorize the clamps of tanh and exp; kernels.h builds each loop
  // for AVX-512, AVX2 and baseline x86-64 (target_clones) and picks one when the library loads.
  const args = ['-std=c++17', '-O3', '-fopenmp-simd', '-fno-trapping-math', '-fPIC', '-shared', '-fvisibility=hidden', '-pthread'];
  // The C kernel API sits in libtensorflow_framework (the wheel) or libtensorflow (2.9.1): link both, and
  // let the linker refuse an undefined symbol now rather than the loader later.
  args.push(path.join(native, 'zoo_ops.cc'), `-I${include}`, `-L${lib}`, '-ltensorflow', '-ltensorflow_framework', `-Wl,-rpath,${lib}`, '-Wl,-z,defs', '-o', tmp);
  const r = spawnSync(cxx, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const why = r.error ? r.error.message : (r.stderr || '').split('\n').find((l) => /error/.test(l)) || `exit code ${r.status}`;
    return { ok: false, detail: `${cxx} failed: ${why.trim().slice(0, 240)}` };
  }
  fs.renameSync(tmp, FUSED_OPS_OUTPUT);
  return { ok: true, detail: `built ${FUSED_OPS_OUTPUT}` };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { createRequire } = await import('node:module');
  const dir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json'));
  const r = buildFusedOps(dir);
  console.error(`[regime-zoo native] fused kernels: ${r.detail}`);
  process.exit(r.ok ? 0 : 1);
}
