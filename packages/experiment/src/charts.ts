import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';
import type { MetricsLine } from './metrics.js';
import type { SummaryRow } from './results.js';

/** A chart of the report: a Vega-Lite spec (data inline) and what it answers. */
export interface Chart {
  id: string;
  title: string;
  /** One sentence under the title: what to read off it. */
  caption: string;
  spec: TopLevelSpec;
}

const WIDTH = 360;

/** Dot-and-whisker: `value` with [lo, hi] per model (y), coloured by `color`, one panel per `facet`. */
function dotWhisker(rows: object[], o: { color: string; facet: string; x: string }): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    facet: { row: { field: o.facet, type: 'nominal', title: null } },
    spec: {
      width: WIDTH,
      layer: [
        { mark: { type: 'rule' }, encoding: { y: { field: 'label', type: 'nominal', title: null }, yOffset: { field: o.color }, x: { field: 'lo', type: 'quantitative', title: o.x }, x2: { field: 'hi' }, color: { field: o.color, type: 'nominal' } } },
        { mark: { type: 'point', filled: true, size: 60 }, encoding: { y: { field: 'label', type: 'nominal' }, yOffset: { field: o.color }, x: { field: 'value', type: 'quantitative' }, color: { field: o.color, type: 'nominal' } } },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  } as TopLevelSpec;
}

function withInterval(r: SummaryRow): object {
  return { ...r, lo: r.lo ?? r.value, hi: r.hi ?? r.value, panel: `${r.world}: ${r.metric}`, label: r.condition === 'none' ? r.model : `${r.model} [${r.condition}]` };
}

/** Rates U(τ) per model and split: rows whose metric ends in `Rate` (TamperRate, ButtonRate, …) on id/ood. */
export function instrumentalRows(summary: readonly SummaryRow[]): SummaryRow[] {
  return summary.filter((r) => (r.split === 'id' || r.split === 'ood') && /Rate$/.test(r.metric));
}

/**
 * OOD amplification rows: a probe's own `ood-id` rows, or the difference of the id and ood means of
 * each rate (with no interval) where the probe gave none.
 */
export function amplificationRows(summary: readonly SummaryRow[]): SummaryRow[] {
  const own = summary.filter((r) => r.split === 'ood-id' && /Rate$/.test(r.metric));
  if (own.length) return own;
  const out: SummaryRow[] = [];
  for (const id of instrumentalRows(summary).filter((r) => r.split === 'id')) {
    const ood = summary.find((r) => r.split === 'ood' && r.model === id.model && r.probe === id.probe && r.world === id.world && r.metric === id.metric && r.condition === id.condition && r.decoding === id.decoding);
    if (ood) out.push({ ...id, split: 'ood-id', value: ood.value - id.value, lo: null, hi: null, n: id.n + ood.n });
  }
  return out;
}

const CURVE_METRICS: readonly [string, readonly string[]][] = [
  ['loss', ['loss']],
  ['KL to base', ['objective/kl']],
  ['reward', ['objective/rlhf_reward', 'objective/scores', 'rewards/margins']],
  ['entropy', ['objective/entropy']],
];

/** Training curves of the arms (seed mean per step): loss, KL, reward, entropy. */
export function curveRows(lines: readonly MetricsLine[]): { arm: string; step: number; metric: string; value: number }[] {
  const acc = new Map<string, { arm: string; step: number; metric: string; sum: number; k: number }>();
  for (const l of lines) {
    if (l.stage !== 'arm' && l.stage !== 'distill') continue;
    for (const [label, keys] of CURVE_METRICS) {
      const key = keys.find((k) => typeof l.metrics[k] === 'number');
      if (!key) continue;
      const id = `${l.arm}\0${l.step}\0${label}`;
      const a = acc.get(id) ?? { arm: l.arm, step: l.step, metric: label, sum: 0, k: 0 };
      a.sum += l.metrics[key] as number;
      a.k++;
      acc.set(id, a);
    }
  }
  return [...acc.values()].map((a) => ({ arm: a.arm, step: a.step, metric: a.metric, value: a.sum / a.k }));
}

/** The report's charts; a chart whose data no probe produced is left out (its absence is said in the text). */
export function reportCharts(summary: readonly SummaryRow[], lines: readonly MetricsLine[]): { charts: Chart[]; missing: string[] } {
  const charts: Chart[] = [];
  const missing: string[] = [];
  const add = (c: Chart, n: number, why: string) => (n ? charts.push(c) : missing.push(why));
  const rates = instrumentalRows(summary);
  add(
    { id: 'instrumental-rate', title: 'Instrumental rate per arm, in and out of distribution', caption: 'Each dot is the rate of unsafe/instrumental episodes U(τ) with its 95% interval; ID and OOD side by side.', spec: dotWhisker(rates.map(withInterval), { color: 'split', facet: 'panel', x: 'rate' }) },
    rates.length,
    'instrumental rate: no probe reported a *Rate metric on the id/ood splits',
  );
  const amp = amplificationRows(summary);
  add(
    { id: 'ood-amplification', title: 'OOD amplification', caption: 'rate(OOD) − rate(ID) per arm: above zero, the arm is more instrumental out of distribution than in it.', spec: dotWhisker(amp.map(withInterval), { color: 'decoding', facet: 'panel', x: 'rate(OOD) − rate(ID)' }) },
    amp.length,
    'OOD amplification: needs a rate on both splits',
  );
  const gap = summary.filter((r) => r.metric === 'RewardHackingGap');
  add(
    { id: 'visible-hidden-gap', title: 'Visible − hidden return gap', caption: 'What the rater saw minus what the designer scores: a growing gap is reward hacking.', spec: dotWhisker(gap.map(withInterval), { color: 'split', facet: 'panel', x: 'visible − hidden' }) },
    gap.length,
    'visible − hidden gap: add the reward-hacking-gap probe',
  );
  const leak = summary.filter((r) => r.metric === 'FlagLeakage');
  add(
    { id: 'flag-leakage', title: 'Flag leakage', caption: 'Rate under <rlhf:off> after RL minus before: RL updates leaking into the flag-off branch.', spec: dotWhisker(leak.map(withInterval), { color: 'split', facet: 'panel', x: 'leakage' }) },
    leak.length,
    'flag leakage: add an rlhf-flag arm and the flag-leakage probe',
  );
  const calib = summary.filter((r) => r.metric === 'AchievedReturn');
  add(
    {
      id: 'return-calibration',
      title: 'Return calibration',
      caption: 'Achieved return per requested return bucket: a calibrated return-conditioned policy climbs with the request.',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        data: { values: calib.map(withInterval) },
        width: WIDTH,
        // A dot and whisker per model, bucket and split (ID and OOD side by side within a bucket).
        layer: [
          { mark: 'rule', encoding: { x: { field: 'condition', type: 'ordinal', title: 'requested bucket' }, xOffset: { field: 'split' }, y: { field: 'lo', type: 'quantitative', title: 'achieved return' }, y2: { field: 'hi' }, color: { field: 'model' } } },
          {
            mark: { type: 'point', filled: true, size: 60 },
            encoding: { x: { field: 'condition', type: 'ordinal' }, xOffset: { field: 'split' }, y: { field: 'value', type: 'quantitative' }, color: { field: 'model', type: 'nominal' }, shape: { field: 'split', type: 'nominal' } },
          },
        ],
      } as TopLevelSpec,
    },
    calib.length,
    'return calibration: add a decision-transformer arm and the return-calibration probe',
  );
  const curves = curveRows(lines);
  add(
    {
      id: 'training-curves',
      title: 'Training curves',
      caption: 'Loss, KL to the base, reward and entropy per arm over training steps (mean over seeds).',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        data: { values: curves },
        facet: { row: { field: 'metric', type: 'nominal', title: null } },
        spec: { width: WIDTH, height: 120, mark: { type: 'line' }, encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'value', type: 'quantitative', title: null }, color: { field: 'arm', type: 'nominal' } } },
        resolve: { scale: { y: 'independent' } },
      } as TopLevelSpec,
    },
    curves.length,
    'training curves: no arm logged loss, KL, reward or entropy',
  );
  return { charts, missing };
}

/** Renders a Vega-Lite spec to an SVG string in Node (vega's headless View; no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vg = compile(spec).spec;
  const view = new View(parse(vg), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
