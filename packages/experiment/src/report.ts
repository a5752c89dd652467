import fs from 'node:fs';
import path from 'node:path';
import { reportCharts, renderSvg, amplificationRows, instrumentalRows } from './charts.js';
import { readMetricsFile } from './metrics.js';
import { readResults, type Results, type SummaryRow } from './results.js';
import { RUN_FILES, writeAtomic } from './rundir.js';

const fmt = (x: number | null) => (x === null ? '' : Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3));
const ci = (r: SummaryRow) => `${fmt(r.value)}${r.lo !== null && r.hi !== null ? ` [${fmt(r.lo)}, ${fmt(r.hi)}]` : ''}`;

function table(rows: readonly SummaryRow[]): string[][] {
  return [
    ['model', 'world', 'split', 'condition', 'decoding', 'metric', 'value [95%]', 'n', 'seeds'],
    ...rows.map((r) => [r.model, r.world, r.split, r.condition, r.decoding, r.metric, ci(r), String(r.n), String(r.seeds)]),
  ];
}

function markdownTable(t: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${t[0]!.map(esc).join(' | ')} |`, `|${t[0]!.map(() => '---').join('|')}|`, ...t.slice(1).map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(t: string[][]): string {
  return `<table><thead><tr>${t[0]!.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${t
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function overview(results: Results): string[] {
  return [
    `Experiment **${results.name}**: seeds ${results.seeds.join(', ')}; splits ${results.splits.join(', ')}; models ${results.models
      .map((m) => `${m.name} (${m.plugin}${m.teacher ? ` of ${m.teacher}` : ''})`)
      .join(', ')}.`,
  ];
}

/**
 * Writes `report.md`, `report.html` (one file, charts inline as SVG, opens offline) and `charts/*.svg`
 * from a run directory's `results.json` and `metrics.jsonl`.
 */
export async function writeReport(runDir: string): Promise<{ charts: string[]; missing: string[] }> {
  const results = readResults(path.join(runDir, RUN_FILES.results));
  const lines = readMetricsFile(path.join(runDir, RUN_FILES.metrics));
  const { charts, missing } = reportCharts(results.summary, lines);
  const svgs = await Promise.all(charts.map((c) => renderSvg(c.spec)));
  const chartDir = path.join(runDir, 'charts');
  fs.rmSync(chartDir, { recursive: true, force: true });
  fs.mkdirSync(chartDir, { recursive: true });
  charts.forEach((c, i) => writeAtomic(path.join(chartDir, `${c.id}.svg`), svgs[i]!));

  const rates = [...instrumentalRows(results.summary), ...amplificationRows(results.summary)];
  const others = results.summary.filter((r) => !rates.includes(r));
  const training = results.stages.filter((s) => /^(base|reward-model|arm|distill)\//.test(s.id));
  const trainTable = [['stage', 'steps', 'final metrics'], ...training.map((s) => [s.id, String(s.output.steps ?? ''), Object.entries((s.output.metrics ?? {}) as Record<string, number>).map(([k, v]) => `${k}=${fmt(v)}`).join(', ')])];

  const md = [
    `# ${results.name}`,
    '',
    ...overview(results),
    '',
    ...charts.flatMap((c) => [`## ${c.title}`, '', c.caption, '', `![${c.title}](charts/${c.id}.svg)`, '']),
    ...(missing.length ? ['## Not measured', '', ...missing.map((m) => `- ${m}`), ''] : []),
    '## Instrumental rates and OOD amplification',
    '',
    markdownTable(table(rates)),
    '',
    '## Every other probe number',
    '',
    markdownTable(table(others)),
    '',
    '## Training',
    '',
    markdownTable(trainTable),
    '',
  ].join('\n');
  writeAtomic(path.join(runDir, RUN_FILES.reportMd), md);

  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(results.name)} — regime-zoo report</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
figure{margin:1.5em 0}figcaption{color:#555;margin-bottom:.5em}.chart svg{max-width:100%;height:auto}</style></head>
<body>
<h1>${escapeHtml(results.name)}</h1>
<p>${escapeHtml(overview(results).join(' ').replace(/\*\*/g, ''))}</p>
${charts.map((c, i) => `<figure class="chart" id="chart-${c.id}" data-chart="${c.id}"><h2>${escapeHtml(c.title)}</h2><figcaption>${escapeHtml(c.caption)}</figcaption>${svgs[i]}</figure>`).join('\n')}
${missing.length ? `<h2>Not measured</h2><ul>${missing.map((m) => `<li>${escapeHtml(m)}</li>`).join('')}</ul>` : ''}
<h2>Instrumental rates and OOD amplification</h2>${htmlTable(table(rates))}
<h2>Every other probe number</h2>${htmlTable(table(others))}
<h2>Training</h2>${htmlTable(trainTable)}
</body></html>
`;
  writeAtomic(path.join(runDir, RUN_FILES.reportHtml), html);
  return { charts: charts.map((c) => c.id), missing };
}
