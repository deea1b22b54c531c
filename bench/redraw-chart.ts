/**
 * Redraws bench/results/latest.{svg,png} from latest.json without running the benchmark again (e.g.
 * after a chart change): `npx tsx bench/redraw-chart.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSvg, svgToPng } from '../insight/chart';
import { benchChartSpec, type Figure } from './report';

async function main(): Promise<void> {
  const dir = join(__dirname, 'results');
  const results = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as {
    figures: Figure[];
    title: string;
  };
  const svg = await chartSvg(benchChartSpec(results.figures, results.title));
  writeFileSync(join(dir, 'latest.svg'), svg);
  writeFileSync(join(dir, 'latest.png'), await svgToPng(svg));
  console.log(`redrew ${join(dir, 'latest.svg')} and latest.png`);
}

void main();
