/**
 * Charts drawn in Node without a browser (insight/chart.ts: Vega-Lite → SVG, resvg → PNG): the file
 * a person opens is written, is an image of the format its name asks for, and names the accounts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { benchChartSpec, judge } from '../bench/report';
import { ChartPathError, accountChartSpec, chartSvg, writeChart, type AccountBar } from '../insight/chart';

const GiB = 1024 ** 3;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('charts', () => {
  let dir: string;
  const bars: AccountBar[] = [
    { account: 'prod-vbs', series: 'current policy', backups: 120, bytes: 1200 * GiB },
    { account: 'prod-vbs', series: 'proposed policy', backups: 150, bytes: 1500 * GiB },
    { account: 'veeam-dc1', series: 'current policy', backups: 7, bytes: 3.5 * GiB },
    { account: 'veeam-dc1', series: 'proposed policy', backups: 9, bytes: 4 * GiB },
  ];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'rc-chart-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an .svg file is an SVG document that labels every account', async () => {
    const file = join(dir, 'nested', 'runs.svg');
    const n = await writeChart(accountChartSpec(bars, 'Backups and bytes each policy would delete'), file);
    const svg = readFileSync(file, 'utf8');
    assert.equal(svg.length, n);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    for (const name of ['prod-vbs', 'veeam-dc1', 'proposed policy', 'GiB', 'backups'])
      assert.ok(svg.includes(`>${name}<`), `the chart shows "${name}"`);
    assert.deepEqual(readdirSync(join(dir, 'nested')), ['runs.svg'], 'no temporary file left behind');
  });

  test('a .png file is a PNG image of a readable size', async () => {
    const file = join(dir, 'runs.png');
    const n = await writeChart(accountChartSpec(bars, 'Deleted per account'), file);
    const png = readFileSync(file);
    assert.equal(png.length, n);
    assert.deepEqual(png.subarray(0, 8), PNG_MAGIC);
    // IHDR: width and height (big-endian) right after the magic, length and chunk type.
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    assert.ok(width >= 600 && height >= 100, `a ${width}x${height} image`);
  });

  test('another extension is refused, naming the option and the formats, before anything is written', async () => {
    const file = join(dir, 'runs.jpg');
    await assert.rejects(
      writeChart(accountChartSpec(bars, 'x'), file),
      (err: Error) =>
        err instanceof ChartPathError &&
        /--chart .*runs\.jpg: expected a file ending in \.png or \.svg/.test(err.message),
    );
    assert.equal(existsSync(file), false);
  });

  test("the benchmark's chart draws every judged figure, passes green and misses red", async () => {
    const figures = [
      judge({
        id: 'a',
        figure: 'makespan / lower bound',
        value: 1.1,
        unit: 'x',
        goal: '<= 1.15x',
        bound: { op: '<=', limit: 1.15 },
      }),
      judge({
        id: 'b',
        figure: 'worker peak RSS',
        value: 480,
        unit: 'MB',
        goal: '<= 400 MB',
        bound: { op: '<=', limit: 400 },
      }),
      judge({ id: 'c', figure: 'info only', value: 3, unit: '', goal: '-' }),
    ];
    const svg = await chartSvg(benchChartSpec(figures, 'bench'));
    assert.match(svg, /^<svg/);
    for (const text of ['makespan / lower bound', 'worker peak RSS', '480 MB (goal &lt;= 400 MB)'])
      assert.ok(svg.includes(`>${text}<`), `the chart shows "${text}"`);
    assert.ok(!svg.includes('>info only<'), 'figures without a goal are not drawn');
    assert.ok(svg.includes('fill="#2e7d32"') && svg.includes('fill="#c62828"'), 'a green and a red bar');
  });
});
