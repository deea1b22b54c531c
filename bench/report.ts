/**
 * Writes a benchmark's results: bench/results/latest.json (everything measured), latest.md (the table
 * of figures against their goals), latest.svg and latest.png (a bar chart of each figure relative to
 * its goal, drawn with Vega-Lite in Node and rasterized by resvg: no browser needed), and the table
 * copied into docs/benchmarks.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite/build/index';
import { chartSvg, svgToPng } from '../insight/chart';
import { writeFormattedDoc } from './write-doc';

export interface Figure {
  id: string;
  figure: string;
  value: number;
  unit: string;
  /** The goal as text, e.g. "<= 1.15x". */
  goal: string;
  /** A shorter label for the chart. */
  short?: string;
  /** Goal bound and direction; absent for figures reported for information only. */
  bound?: { op: '<=' | '>='; limit: number };
  pass?: boolean;
  detail?: string;
  /** Each repetition's value when `value` is their median (the markdown shows min and max). */
  repetitions?: number[];
}

/** The median of the values (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function judge(f: Omit<Figure, 'pass'>): Figure {
  if (!f.bound) return f;
  const pass = f.bound.op === '<=' ? f.value <= f.bound.limit : f.value >= f.bound.limit;
  return { ...f, pass };
}

function fmt(v: number, unit: string): string {
  const n = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${n} ${unit}` : n;
}

/** ", median of 3: 1.10-1.20" for a figure measured more than once. */
function spreadOf(f: Figure): string {
  const r = f.repetitions;
  if (!r || r.length < 2) return '';
  const n = (v: number) => fmt(v, '');
  return ` (median of ${r.length}: ${n(Math.min(...r))} to ${n(Math.max(...r))})`;
}

export function markdownTable(figures: Figure[]): string {
  const rows = figures.map(
    (f) =>
      `| ${f.figure} | ${fmt(f.value, f.unit)}${spreadOf(f)} | ${f.goal} | ${f.pass === undefined ? 'info' : f.pass ? 'pass' : '**FAIL**'} |`,
  );
  return ['| figure | value | goal | result |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/**
 * One bar per judged figure: value / goal limit, with the goal at 1.0 (a dashed rule). Green passes,
 * red misses. A Vega-Lite spec drawn by insight/chart.ts (SVG in Node, PNG through resvg), the same
 * library as `report --chart` and the what-if's chart.
 */
export function benchChartSpec(figures: Figure[], title: string): TopLevelSpec {
  const judged = figures.filter((f) => f.bound);
  const maxRatio = Math.max(2, ...judged.map((f) => f.value / f.bound!.limit));
  const values = judged.map((f) => ({
    figure: f.short ?? f.figure,
    // Bars beyond the axis are clipped at its end; the label gives the real value.
    ratio: Math.min(f.value / f.bound!.limit, maxRatio),
    result: f.pass ? 'pass' : 'miss',
    label: `${fmt(f.value, f.unit)} (goal ${f.goal})`,
  }));
  // Figures in the benchmark's order (sort null keeps the data's order), labels in full.
  const y = { field: 'figure', type: 'nominal' as const, title: null, sort: null, axis: { labelLimit: 320 } };
  const x = { field: 'ratio', type: 'quantitative' as const, scale: { domain: [0, maxRatio] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle:
        'bar = measured / goal limit; the dashed line is the goal (lower is better for "<=", higher for ">=")',
      anchor: 'start',
    },
    background: 'white',
    width: 420,
    height: { step: 30 },
    padding: { left: 5, top: 5, bottom: 5, right: 150 },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.85 },
        encoding: {
          y,
          x: { ...x, title: 'measured / goal' },
          color: {
            field: 'result',
            type: 'nominal',
            scale: { domain: ['pass', 'miss'], range: ['#2e7d32', '#c62828'] },
            legend: null,
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { y, x, text: { field: 'label', type: 'nominal' } },
      },
      {
        data: { values: [{ goal: 1 }] },
        mark: { type: 'rule', strokeDash: [5, 4], color: '#000' },
        encoding: { x: { field: 'goal', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

export async function writeResults(
  root: string,
  results: { figures: Figure[]; command: string; title: string; summary: string } & Record<string, unknown>,
): Promise<{ pngNote?: string }> {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const table = markdownTable(results.figures);
  const md = `# ${results.title}\n\n${results.summary}\n\nCommand: \`${results.command}\`\n\n${table}\n`;
  writeFileSync(join(dir, 'latest.md'), md);
  const svg = await chartSvg(benchChartSpec(results.figures, results.title));
  writeFileSync(join(dir, 'latest.svg'), svg);
  writeFileSync(join(dir, 'latest.png'), await svgToPng(svg));

  // docs/benchmarks.md: the latest table between markers; the prose around it is kept.
  const docs = join(root, 'docs', 'benchmarks.md');
  const begin = '<!-- bench:latest:begin -->';
  const end = '<!-- bench:latest:end -->';
  const block = `${begin}\n${results.summary}\n\nCommand: \`${results.command}\`\n\n${table}\n\n![latest benchmark chart](../bench/results/latest.png)\n${end}`;
  let text = existsSync(docs) ? readFileSync(docs, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  if (!text.includes(begin) || !text.includes(end)) text = `${text.trimEnd()}\n\n${begin}\n${end}\n`;
  text = text.slice(0, text.indexOf(begin)) + block + text.slice(text.indexOf(end) + end.length);
  await writeFormattedDoc(docs, text);
  return {}; // pngNote is gone: resvg always renders (kept in the type for bench.ts's message)
}
