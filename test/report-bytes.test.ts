/**
 * Bytes in a run's report (issue 19): a policy run carries each backup's listed size to its outcome,
 * so the report (JSON Lines and CSV, exact) and `report --chart` (per account, human units) say what
 * the run freed. A backup listed without a size stays unknown: no sizeBytes, counted apart, never 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { progressLine } from '../client/render';
import { CSV_COLUMNS, parseCsvReport } from '../client/report';
import { RetentionClient } from '../client/retention-client';
import type { RunSummary } from '../contract/messages';
import { runCli, show } from './helpers/run-cli';
import { reportOf } from './helpers/runs';
import { TEST_CREDENTIAL_ENV, startStack, temporalAddress, type Stack } from './helpers/stack';

const GiB = 1024 ** 3;
const DAY = 86_400_000;

describe('bytes in run reports', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let dir: string;
  let runId: string;
  let summary: RunSummary;
  const cli = (args: string[]) =>
    runCli(args, {
      env: { ...TEST_CREDENTIAL_ENV, TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: 'default' },
    });

  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' }, dry: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
    dir = mkdtempSync(join(tmpdir(), 'rc-report-bytes-'));
    // One volume, 6 daily backups of 1..6 GB (newest first); the oldest without a size.
    const now = Date.now();
    const sizes = [1, 2, 3, 4, 5, null];
    stack.sim.seed(
      'vbs',
      stack.scope('vbs'),
      sizes.map((size, d) => ({
        id: `rb-d${d}`,
        status: 'available',
        volume_id: 'rb-vol',
        created_at: new Date(now - (d * DAY + 3_600_000)).toISOString().replace('Z', ''),
        size,
      })),
    );
    // keepLast 2 deletes d2..d5: 3 + 4 + 5 GB and one unsized backup.
    runId = await rc.start({
      policy: { accounts: [stack.account('vbs')], rules: { keepLast: 2 } },
      dryRun: false,
    });
    summary = await rc.result(runId);
    assert.equal(summary.counts.deleted, 4);
  });
  after(async () => {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the plan in the run summary gives the bytes to delete, the unsized backup apart', () => {
    assert.deepEqual(summary.plan, [
      {
        account: stack.account('vbs'),
        listed: 6,
        toDelete: 4,
        kept: 2,
        groups: 1,
        toDeleteBytes: 12 * GiB,
        toDeleteUnsized: 1,
      },
    ]);
  });

  test('the run summary gives bytes deleted per account, and status shows them in human units', async () => {
    const account = stack.account('vbs');
    assert.deepEqual(summary.perAccount[account]?.deletedBytes, { bytes: 12 * GiB, unsized: 1 });
    const progress = await rc.getProgress(runId);
    assert.deepEqual(
      progress.perAccount[account]?.deletedBytes,
      { bytes: 12 * GiB, unsized: 1 },
      'the progress query',
    );
    assert.match(
      progressLine(progress),
      /deleted 4 {2}freed 12\.0 GiB \+ 1 unsized/,
      'the --follow progress line',
    );
    const r = await cli(['status', runId]);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('ACCOUNT')) ?? '';
    assert.match(header, /TOTAL\s+BYTES DELETED$/, show(r));
    const row = lines.find((l) => l.startsWith(account)) ?? '';
    assert.match(row, /\s4\s+0\s+0\s+0\s+0\s+4\s+12\.0 GiB \+ 1 unsized$/, show(r));
    // The plan the run carried out, with the bytes it set out to delete.
    assert.match(r.stdout, /^PLAN\s+LISTED\s+TO DELETE\s+KEPT\s+GROUPS\s+BYTES TO DELETE$/m, show(r));
    const planRow = lines.filter((l) => l.startsWith(account))[1] ?? '';
    assert.match(planRow, /\s6\s+4\s+2\s+1\s+12\.0 GiB \+ 1 unsized$/, show(r));
  });

  test("each deleted backup's outcome carries its listed size; the unsized one has none", async () => {
    const outcomes = await reportOf(rc, runId);
    const size = new Map(outcomes.map((o) => [o.id, o.sizeBytes]));
    assert.deepEqual([...size.entries()].sort(), [
      ['rb-d2', 3 * GiB],
      ['rb-d3', 4 * GiB],
      ['rb-d4', 5 * GiB],
      ['rb-d5', undefined],
    ]);
    assert.ok(outcomes.every((o) => o.outcome === 'deleted'));
  });

  test('the CSV report has exact bytes in sizeBytes, empty when unknown', async () => {
    const csvPath = join(dir, 'run.csv');
    const r = await cli(['report', runId, '--output', csvPath]);
    assert.equal(r.code, 0, show(r));
    // The run's summary comes first as # records (docs/cli.md, report), then the columns and items.
    const { header, rows } = parseCsvReport(readFileSync(csvPath, 'utf8'));
    assert.deepEqual(header, [...CSV_COLUMNS]);
    const col = CSV_COLUMNS.indexOf('sizeBytes');
    const byId = new Map(rows.map((row) => [row[1], row[col]]));
    assert.equal(byId.get('rb-d4'), String(5 * GiB));
    assert.equal(byId.get('rb-d5'), '');
  });

  test('report --chart draws the account and prints bytes deleted per account in human units', async () => {
    const svg = join(dir, 'run.svg');
    const r = await cli(['report', runId, '--chart', svg]);
    assert.equal(r.code, 0, show(r));
    const account = stack.account('vbs');
    const row = r.stdout.split('\n').find((l) => l.startsWith(account)) ?? '';
    assert.match(row, /^\S+\s+4 \(12\.0 GiB \+ 1 unsized\)\s+0\s+0\s+0\s+0\s*$/, show(r));
    assert.match(r.stderr, /chart written to .*run\.svg/);
    const text = readFileSync(svg, 'utf8');
    assert.match(text, /^<svg/);
    assert.ok(text.includes(`>${account}<`), 'the chart names the account');
    // The bytes label: 12 GiB known (the unsized backup is not drawn as 0 bytes more or less).
    assert.ok(text.includes('>12.00<'), 'the chart labels 12.00 GiB');
  });

  test('a dry run reports the size of every backup it would delete or keep, and the bytes to delete', async () => {
    const now = Date.now();
    stack.sim.seed(
      'vbs',
      stack.scope('dry'),
      [7, 8, 9].map((size, d) => ({
        id: `dry-d${d}`,
        status: 'available',
        volume_id: 'dry-vol',
        created_at: new Date(now - (d * DAY + 3_600_000)).toISOString().replace('Z', ''),
        size,
      })),
    );
    const id = await rc.start({ policy: { accounts: [stack.account('dry')], rules: { keepLast: 1 } } });
    const dry = await rc.result(id);
    assert.equal(dry.dryRun, true);
    assert.equal(dry.plan?.[0]?.toDeleteBytes, (8 + 9) * GiB);
    assert.equal(dry.plan?.[0]?.toDeleteUnsized, 0);
    const outcomes = await reportOf(rc, id);
    assert.deepEqual(outcomes.map((o) => [o.id, o.outcome, o.sizeBytes]).sort(), [
      ['dry-d0', 'skipped', 7 * GiB],
      ['dry-d1', 'skipped', 8 * GiB],
      ['dry-d2', 'skipped', 9 * GiB],
    ]);
    assert.equal(dry.perAccount[stack.account('dry')]?.deletedBytes, undefined, 'a dry run deletes nothing');
  });
});
