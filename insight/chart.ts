/**
 * Charts drawn in Node without a browser: a Vega-Lite spec compiled to Vega, rendered headless to
 * SVG (vega's `renderer: 'none'` view), and to PNG through resvg (a Rust rasterizer shipped as an
 * npm package). The format follows the file's extension. Used by `report --chart`, the what-if's
 * `--chart` and the benchmark's chart.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
// vega-lite's types are reached by path: the project's node10 module resolution does not read its "exports".
import type { TopLevelSpec } from 'vega-lite/build/index';

/** The package name as a value, so TypeScript does not try (and fail) to resolve it under node10. */
const VEGA_LITE: string = 'vega-lite';

export const CHART_FORMATS = ['.svg', '.png'] as const;

/** The SVG of a Vega-Lite spec. */
export async function chartSvg(spec: TopLevelSpec): Promise<string> {
  const vega = await import('vega');
  const vl = (await import(VEGA_LITE)) as typeof import('vega-lite/build/index');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PNG bytes of an SVG, at `scale` times its size (2 = sharp on high-density screens). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    background: 'white',
  });
  return r.render().asPng();
}

/** Throws a clear error for a file the chart cannot be written as (before any work is done). */
export function checkChartPath(file: string, option = '--chart'): '.svg' | '.png' {
  const ext = extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png')
    throw new ChartPathError(
      `${option} ${file}: expected a file ending in .png or .svg, e.g. ${option} runs.png`,
    );
  return ext;
}

export class ChartPathError extends Error {
  override readonly name = 'ChartPathError';
}

/** Renders the spec and writes it atomically (a temporary file, then a rename). Returns the bytes written. */
export async function writeChart(spec: TopLevelSpec, file: string): Promise<number> {
  const ext = checkChartPath(file);
  const svg = await chartSvg(spec);
  const data = ext === '.png' ? await svgToPng(svg) : Buffer.from(svg, 'utf8');
  const target = resolve(file);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return data.length;
}

/** One bar pair of a per-account chart. */
export interface AccountBar {
  account: string;
  /** What the bar is, e.g. "deleted" or "proposed policy"; one colour each. */
  series: string;
  backups: number;
  /** Known bytes (backups without a size are left out of it, and named in the tooltip/label). */
  bytes: number;
}

const GiB = 1024 ** 3;

/**
 * Bytes and backups per account, side by side: where storage went at a glance. Bars of several
 * series (current vs proposed policy) stand next to each other within an account.
 */
export function accountChartSpec(bars: readonly AccountBar[], title: string): TopLevelSpec {
  const values = bars.map((b) => ({ ...b, gib: b.bytes / GiB }));
  const series = [...new Set(bars.map((b) => b.series))];
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: series },
    legend: series.length > 1 ? { orient: 'bottom' as const } : null,
  };
  const y = { field: 'account', type: 'nominal' as const, title: null, sort: 'ascending' as const };
  const yOffset =
    series.length > 1
      ? { yOffset: { field: 'series', type: 'nominal' as const, scale: { domain: series } } }
      : {};
  const panel = (field: 'gib' | 'backups', axisTitle: string, format: string) => ({
    width: 320,
    height: { step: 18 * Math.max(1, series.length) + 8 },
    layer: [
      {
        mark: { type: 'bar' as const },
        encoding: { y, x: { field, type: 'quantitative' as const, title: axisTitle }, color, ...yOffset },
      },
      {
        mark: { type: 'text' as const, align: 'left' as const, dx: 3, fontSize: 10 },
        encoding: {
          y,
          x: { field, type: 'quantitative' as const },
          text: { field, type: 'quantitative' as const, format },
          ...yOffset,
        },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    background: 'white',
    padding: { left: 5, top: 5, bottom: 5, right: 30 },
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    data: { values },
    hconcat: [panel('gib', 'GiB', '.2f'), panel('backups', 'backups', 'd')],
  } as TopLevelSpec;
}
