import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { graphAvailable } from './graph-run.js';

// regime-zoo's fused kernels (native/zoo_ops.cc: GELU, LayerNorm, masked softmax, their gradients, column
// sums and AdamW, one pass each), built by `regime-zoo-native` next to the tfjs-node binding and loaded
// here into the same TensorFlow. The compiled graphs use them when they load and TensorFlow's own ops
// otherwise; docs/performance.md ("Issue 19: third pass — fused kernels") says what they change. The same
// addon releases libtensorflow's start-up pages (`releaseLibraryPages`, called by backend.ts).

/** Where `regime-zoo-native` builds the kernels (packages/core/native/build), from src/ or dist/ alike. */
export const FUSED_OPS_PATH = fileURLToPath(new URL('../native/build/zoo_ops.node', import.meta.url));

export interface FusedOpsStatus {
  /** Whether the compiled graphs use the fused kernels. */
  active: boolean;
  /** Why (or why not). */
  reason: string;
}

let override: boolean | undefined;

/** Turns the fused kernels off (`false`) or back to automatic (`undefined`), e.g. to compare with TensorFlow's ops. */
export function setFusedOps(enabled: boolean | undefined): void {
  override = enabled;
}

interface Addon {
  releaseLibraryPages?: () => number;
}
let addon: { exports: Addon; reason: string } | { exports?: undefined; reason: string } | undefined;

/** Loads the addon once per process (registering its kernels with the TensorFlow already loaded). */
function loadAddon(): NonNullable<typeof addon> {
  if (addon) return addon;
  if (!fs.existsSync(FUSED_OPS_PATH)) {
    addon = { reason: `${FUSED_OPS_PATH} is not built (run \`npx regime-zoo-native\`; it needs a C++ compiler and TensorFlow's C headers)` };
  } else {
    try {
      const module = { exports: {} as Addon };
      process.dlopen(module as unknown as NodeJS.Module, FUSED_OPS_PATH);
      addon = { exports: module.exports, reason: `loaded from ${FUSED_OPS_PATH}` };
    } catch (e) {
      addon = { reason: `${FUSED_OPS_PATH} did not load: ${(e as Error).message}` };
    }
  }
  return addon;
}

/**
 * Unmaps the pages of libtensorflow's read-only file mappings that are still exact copies of the file
 * (native/zoo_ops.cc, `release_library_pages`): most were touched only by its start-up. Pages needed
 * later come back from the page cache on their next use. Returns the bytes of resident memory this
 * released, or undefined where the addon is not built or does not load. Linux only (/proc/self/smaps).
 */
export function releaseLibraryPages(): number | undefined {
  const release = loadAddon().exports?.releaseLibraryPages;
  if (!release) return undefined;
  const before = process.memoryUsage.rss();
  if (release() < 0) return undefined;
  return Math.max(0, before - process.memoryUsage.rss());
}

/**
 * Whether the compiled graphs use the fused kernels here: compiled graphs run (`graphAvailable`), the
 * kernels are built and load, and they are not turned off (`REGIME_ZOO_FUSED=0` or `setFusedOps(false)`).
 * The library is loaded on the first call that gets that far, once per process.
 */
export function fusedOpsStatus(): FusedOpsStatus {
  if (override === false || (override === undefined && process.env.REGIME_ZOO_FUSED === '0')) {
    return { active: false, reason: override === false ? 'turned off by setFusedOps(false)' : 'turned off by REGIME_ZOO_FUSED=0' };
  }
  if (!graphAvailable()) return { active: false, reason: 'compiled graphs are off (eager path or the pure-JS backend)' };
  const { exports, reason } = loadAddon();
  return { active: exports !== undefined, reason };
}

export const fusedOpsAvailable = (): boolean => fusedOpsStatus().active;
