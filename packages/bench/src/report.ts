import { BENCH_SHAPE, BENCH_TARGETS } from './flops.js';
import type { BenchComparison, BenchmarkResult, TorchReference, TorchReferenceResult } from './run.js';

/** tfjs/PyTorch training-throughput ratios for the configs both sides ran, with the issue's targets. */
export function compareWithReference(result: BenchmarkResult, reference: TorchReferenceResult): BenchComparison[] {
  const out: BenchComparison[] = [];
  for (const c of result.configs) {
    const r = reference.configs.find((x) => x.name === c.name);
    if (!r) continue;
    const trainingRatio = c.training.tokensPerSecond / r.training.tokensPerSecond;
    const target = BENCH_TARGETS.trainingRatio[c.name];
    const kvRatio = c.rollout && r.rollout ? c.rollout.withCache.tokensPerSecond / r.rollout.withCache.tokensPerSecond : undefined;
    const rssRatio = c.memory.peakRssBytes / r.memory.peakRssBytes;
    out.push({ name: c.name, trainingRatio, target, met: trainingRatio >= target, ...(kvRatio !== undefined ? { kvRatio } : {}), rssRatio });
  }
  return out;
}

/** Other processes' CPU use (cores) above which the table warns that the numbers are not clean. */
export const OTHER_LOAD_WARNING = 0.2;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const fixed = (x: number, d = 1) => x.toFixed(d);
const check = (ok: boolean) => (ok ? 'met' : 'NOT met');

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The tables `zoo bench` prints: training, memory, rollouts and, with a reference, the tfjs/PyTorch ratios. */
export function formatBenchmark(result: BenchmarkResult, reference?: TorchReference): string {
  const ref = reference?.ok ? reference.result : undefined;
  // The tfjs/PyTorch ratios, computed once for the tables and the summary lines.
  const cmp = ref ? compareWithReference(result, ref) : [];
  const ratios = (name: string) => cmp.find((x) => x.name === name);
  const lines: string[] = [];
  lines.push(
    `regime-zoo bench: tfjs ${result.backend} backend${result.tensorflowVersion ? `, libtensorflow ${result.tensorflowVersion}` : ''}, ${result.compiledGraphs ? `compiled graphs${result.fusedKernels ? ' with fused kernels' : ''}` : 'eager ops'}, node ${result.node}, ${result.platform}, ${result.cpus} cpus`,
  );
  lines.push(`matmul peak ${result.matmulPeak.size}x${result.matmulPeak.size}: ${fixed(result.matmulPeak.gflops)} GFLOP/s (tfjs)${ref ? `, ${fixed(ref.matmulPeak.gflops)} GFLOP/s (PyTorch ${ref.torchVersion}, ${ref.threads} threads)` : ''}`);
  lines.push(`model: vocab ${BENCH_SHAPE.vocabSize}, context ${BENCH_SHAPE.contextLength}, batch ${BENCH_SHAPE.batch}, AdamW + clipping; ${result.flopFormula}`);
  lines.push('');
  lines.push('training');
  const load = (x: number | undefined) => (x === undefined ? '-' : fixed(x, 2));
  const trainHeader = ['config', 'params', 'GFLOP/step', 'steps', 'ms/step (median)', 'ms/step (mean)', 'tokens/s', 'GFLOP/s', '% peak', 'target', 'other load'];
  const peakTarget = (c: BenchmarkResult['configs'][number]): string => {
    const t = BENCH_TARGETS.fractionOfPeak[c.name];
    return t === undefined ? '-' : `≥ ${fixed(100 * t, 0)}% ${check(c.training.fractionOfPeak >= t)}`;
  };
  const trainRows = result.configs.map((c) => [
    `${c.name} (d${c.model.dModel} L${c.model.nLayers} H${c.model.nHeads})`,
    String(c.params),
    fixed(c.flopsPerStep.total / 1e9, 2),
    String(c.training.steps),
    fixed(c.training.msPerStep.median),
    fixed(c.training.msPerStep.mean),
    fixed(c.training.tokensPerSecond, 0),
    fixed(c.training.achievedGflops, 2),
    `${fixed(100 * c.training.fractionOfPeak)}%`,
    peakTarget(c),
    load(c.training.otherLoad),
  ]);
  lines.push(...table(trainHeader, trainRows));
  if (ref) {
    lines.push('');
    lines.push(`training, PyTorch ${ref.torchVersion} reference (${ref.threads} threads) and tfjs/PyTorch throughput`);
    const refRows = result.configs.map((c) => {
      const r = ref.configs.find((x) => x.name === c.name);
      const k = ratios(c.name);
      if (!r || !k) return [c.name, '-', '-', '-', '-', '-', '-', '-'];
      return [
        c.name,
        fixed(r.training.msPerStep.median),
        fixed(r.training.msPerStep.mean),
        fixed(r.training.tokensPerSecond, 0),
        `${fixed(100 * r.training.fractionOfPeak)}%`,
        load(r.training.otherLoad),
        fixed(k.trainingRatio, 2),
        `≥ ${k.target} ${check(k.met)}`,
      ];
    });
    lines.push(...table(['config', 'ms/step (median)', 'ms/step (mean)', 'tokens/s', '% peak', 'other load', 'tfjs/torch', 'target'], refRows));
  }
  lines.push('');
  lines.push('memory');
  const memHeader = ['config', 'peak tensors', 'tensors after', 'kernels/step', 'peak RSS'];
  if (ref) memHeader.push('torch peak RSS', 'tfjs/torch', 'target');
  lines.push(
    ...table(
      memHeader,
      result.configs.map((c) => {
        const row = [c.name, mib(c.memory.peakTensorBytes), mib(c.memory.tensorBytesAfter), String(c.memory.kernelsPerStep), `${mib(c.memory.peakRssBytes)} (${c.memory.rssMethod})`];
        if (ref) {
          const r = ref.configs.find((x) => x.name === c.name);
          const ratio = ratios(c.name)?.rssRatio;
          row.push(r ? `${mib(r.memory.peakRssBytes)} (${r.memory.rssMethod})` : '-', ratio === undefined ? '-' : fixed(ratio, 2), ratio === undefined ? '-' : `≤ ${BENCH_TARGETS.rssRatio} ${check(ratio <= BENCH_TARGETS.rssRatio)}`);
        }
        return row;
      }),
    ),
  );
  const withRollouts = result.configs.filter((c) => c.rollout);
  if (withRollouts.length) {
    const r0 = withRollouts[0]!.rollout!;
    lines.push('');
    lines.push(`rollouts: ${r0.episodes} episodes × ${r0.generateTokens} sampled tokens after a ${r0.promptLength}-token prompt, one batch`);
    const rollHeader = ['config', 'KV tokens/s', 'no-KV tokens/s', 'KV speed-up', 'target', 'other load'];
    if (ref) rollHeader.push('torch KV tokens/s', 'torch no-KV tokens/s', 'torch speed-up', 'other load', 'KV tfjs/torch', 'target');
    lines.push(
      ...table(
        rollHeader,
        withRollouts.map((c) => {
          const r = c.rollout!;
          const row = [c.name, fixed(r.withCache.tokensPerSecond, 0), fixed(r.withoutCache.tokensPerSecond, 0), `${fixed(r.speedup)}×`, `≥ ${BENCH_TARGETS.kvSpeedup}× ${check(r.speedup >= BENCH_TARGETS.kvSpeedup)}`, load(r.otherLoad)];
          if (ref) {
            const t = ref.configs.find((x) => x.name === c.name)?.rollout;
            const ratio = ratios(c.name)?.kvRatio;
            row.push(t ? fixed(t.withCache.tokensPerSecond, 0) : '-', t ? fixed(t.withoutCache.tokensPerSecond, 0) : '-', t ? `${fixed(t.speedup)}×` : '-', load(t?.otherLoad));
            row.push(ratio === undefined ? '-' : fixed(ratio, 2), ratio === undefined ? '-' : `≥ ${fixed(BENCH_TARGETS.kvRatio)} ${check(ratio >= BENCH_TARGETS.kvRatio)}`);
          }
          return row;
        }),
      ),
    );
  }
  lines.push('');
  const loads = [
    ...result.configs.flatMap((c) => [c.training.otherLoad, c.rollout?.otherLoad]),
    ...(ref?.configs.flatMap((c) => [c.training.otherLoad, c.rollout?.otherLoad]) ?? []),
  ].filter((x): x is number => x !== undefined);
  lines.push('other load = CPU cores that other processes kept busy while timing (from /proc/stat); near 0 on a quiet machine');
  if (loads.length && Math.max(...loads) > OTHER_LOAD_WARNING) {
    lines.push(`WARNING: other processes used up to ${fixed(Math.max(...loads), 2)} cores while timing; these numbers are not clean; rerun on a quiet machine`);
  }
  if (reference && !reference.ok) lines.push(`PyTorch reference skipped: ${reference.reason}`);
  if (ref) {
    lines.push(`tfjs/PyTorch training throughput: ${cmp.map((c) => `${c.name} ${fixed(c.trainingRatio, 2)} (target ≥ ${c.target}: ${check(c.met)})`).join(', ')}`);
    const kv = cmp.filter((c) => c.kvRatio !== undefined);
    if (kv.length) lines.push(`tfjs/PyTorch KV-cache rollouts: ${kv.map((c) => `${c.name} ${fixed(c.kvRatio!, 2)}`).join(', ')} (target ≥ ${fixed(BENCH_TARGETS.kvRatio)})`);
    lines.push(`tfjs/PyTorch peak RSS: ${cmp.map((c) => `${c.name} ${fixed(c.rssRatio, 2)}`).join(', ')} (target ≤ ${BENCH_TARGETS.rssRatio})`);
  }
  lines.push(`total ${fixed(result.seconds, 0)} s (tfjs side)`);
  return lines.join('\n');
}
