import cliProgress from 'cli-progress';
import type { StageProgress } from './stages.js';

/**
 * Shows stage progress: on a terminal, a bar per running stage with its ETA (cli-progress); elsewhere,
 * one plain line when a stage starts, is skipped or finishes, and at each tenth of its steps.
 */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): { update: (p: StageProgress) => void; stop: () => void } {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar(
      { stream, format: '{stage} |{bar}| {value}/{total} | ETA {eta_formatted}', hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    return {
      update: (p) => {
        if (p.event === 'skip') return;
        let bar = bars.get(p.stage);
        if (!bar) {
          bar = multi.create(Math.max(1, p.total), 0, { stage: p.stage.padEnd(28) });
          bars.set(p.stage, bar);
        }
        if (p.total > 0) bar.setTotal(p.total);
        bar.update(p.event === 'done' ? bar.getTotal() : p.step);
        if (p.event === 'done') bar.stop();
      },
      stop: () => multi.stop(),
    };
  }
  const lastTenth = new Map<string, number>();
  return {
    update: (p) => {
      if (p.event === 'step') {
        const tenth = p.total > 0 ? Math.floor((10 * p.step) / p.total) : 0;
        if (tenth === lastTenth.get(p.stage)) return;
        lastTenth.set(p.stage, tenth);
        stream.write(`${p.stage}: ${p.step}/${p.total}\n`);
      } else {
        stream.write(`${p.stage}: ${p.event === 'skip' ? 'complete already, skipped' : p.event === 'start' ? 'started' : 'done'}\n`);
      }
    },
    stop: () => {},
  };
}
