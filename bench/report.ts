/**
 * Writes a benchmark's results: bench/results/latest.json (everything measured), latest.md (the table
 * of figures against their goals), latest.svg and latest.png (a bar chart of each figure relative to
 * its goal; the PNG is the SVG rendered by headless Chromium through playwright-core, skipped with a
 * note when no Chromium is installed), and the table copied into docs/benchmarks.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

export function markdownTable(figures: Figure[]): string {
  const rows = figures.map(
    (f) =>
      `| ${f.figure} | ${fmt(f.value, f.unit)} | ${f.goal} | ${f.pass === undefined ? 'info' : f.pass ? 'pass' : '**FAIL**'} |`,
  );
  return ['| figure | value | goal | result |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One bar per judged figure: value / goal limit, with the goal at 1.0. Green passes, red misses. */
export function chartSvg(figures: Figure[], title: string): string {
  const judged = figures.filter((f) => f.bound);
  const W = 1000;
  const rowH = 34;
  const left = 330;
  const barMax = W - left - 240;
  const top = 56;
  const H = top + judged.length * rowH + 40;
  const maxRatio = Math.max(2, ...judged.map((f) => f.value / f.bound!.limit));
  const x = (r: number) => left + (Math.min(r, maxRatio) / maxRatio) * barMax;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="16" y="28" font-size="18" font-weight="bold">${esc(title)}</text>`,
    `<text x="16" y="46" font-size="12" fill="#555">bar = measured / goal limit; the dashed line is the goal (lower is better for "&lt;=", higher for "&gt;=")</text>`,
  ];
  judged.forEach((f, i) => {
    const y = top + i * rowH;
    const r = f.value / f.bound!.limit;
    const color = f.pass ? '#2e7d32' : '#c62828';
    parts.push(
      `<text x="16" y="${y + 21}" font-size="13">${esc(f.short ?? f.figure)}</text>`,
      `<rect x="${left}" y="${y + 6}" width="${Math.max(2, x(r) - left)}" height="${rowH - 12}" fill="${color}" opacity="0.85"/>`,
      `<text x="${x(r) + 6}" y="${y + 21}" font-size="12">${esc(`${fmt(f.value, f.unit)} (goal ${f.goal})`)}</text>`,
    );
  });
  const gx = x(1);
  parts.push(
    `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + judged.length * rowH}" stroke="#000" stroke-dasharray="5,4"/>`,
    `<text x="${gx - 14}" y="${top + judged.length * rowH + 16}" font-size="11">goal</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

/** Renders the SVG to PNG with headless Chromium; returns why not when it cannot. */
async function renderPng(svg: string, pngPath: string): Promise<string | undefined> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    return `no Chromium at ${executablePath} (scripts/install-chromium.sh installs it)`;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path: pngPath });
    return undefined;
  } catch (err) {
    return `Chromium could not render the chart: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    await browser.close();
  }
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
  const svg = chartSvg(results.figures, results.title);
  writeFileSync(join(dir, 'latest.svg'), svg);
  const pngNote = await renderPng(svg, join(dir, 'latest.png'));

  // docs/benchmarks.md: the latest table between markers; the prose around it is kept.
  const docs = join(root, 'docs', 'benchmarks.md');
  const begin = '<!-- bench:latest:begin -->';
  const end = '<!-- bench:latest:end -->';
  const block = `${begin}\n${results.summary}\n\nCommand: \`${results.command}\`\n\n${table}\n\n![latest benchmark chart](../bench/results/latest.png)\n${end}`;
  let text = existsSync(docs) ? readFileSync(docs, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  if (!text.includes(begin) || !text.includes(end)) text = `${text.trimEnd()}\n\n${begin}\n${end}\n`;
  text = text.slice(0, text.indexOf(begin)) + block + text.slice(text.indexOf(end) + end.length);
  writeFileSync(docs, text);
  return pngNote ? { pngNote } : {};
}
