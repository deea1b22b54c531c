/**
 * The programmatic client: validation before any contact with Temporal, paging of big requests,
 * follow/status/report, adding items to an open run, and the report writers.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import {
  CSV_COLUMNS,
  CSV_HEADER,
  InvalidRequestError,
  RetentionClient,
  csvField,
  csvRow,
  jsonlLine,
  parseCsv,
  parseCsvReport,
  reportSummary,
  reportToString,
  validateRequest,
  writeReport,
  type ItemOutcome,
  type RunProgress,
} from '../client';
import { assertOneOutcomeEach, reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

describe('RetentionClient without a server', () => {
  // Connection.lazy connects on the first call; nothing here may make one.
  const offline = () =>
    new RetentionClient(new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }));

  test('start rejects a bad request before contacting Temporal, naming the field', async () => {
    const rc = offline();
    const t0 = Date.now();
    await assert.rejects(rc.start({ items: [{ account: 'vbs-prod' } as never] }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.deepEqual(err.problems, ["items[0].id: expected the provider's backup id as a string"]);
      return true;
    });
    await assert.rejects(rc.start({ items: [], dryRun: 'yes' as never }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.deepEqual(err.problems, ['dryRun: expected true or false']);
      return true;
    });
    await assert.rejects(rc.start({ items: [] }), /items: give at least one item/);
    // A bad item far beyond the first page is found, with its index in the whole list.
    const items = Array.from({ length: 2500 }, (_, i) => ({ account: 'vbs-prod', id: `b-${i}` }));
    items[2345] = { account: 'vbs-prod', id: 'has/slash' };
    await assert.rejects(rc.start({ items }), (err: unknown) => {
      assert.ok(err instanceof InvalidRequestError);
      assert.deepEqual(err.problems, ['items[2345].id: must not contain "/", "?", "#" or white space']);
      return true;
    });
    await assert.rejects(rc.addItems('any', [{ account: 'bad name', id: 'x' }]), InvalidRequestError);
    assert.ok(Date.now() - t0 < 2000, 'no connection attempt was waited for');
  });

  test('validateRequest merges duplicates, counts pages and caps a flood of problems', () => {
    const items = Array.from({ length: 2100 }, (_, i) => ({ account: 'a', id: `b-${i % 2050}` }));
    const r = validateRequest({ items });
    assert.ok(r.ok);
    assert.equal(r.value.items.length, 2050);
    assert.equal(r.value.duplicatesMerged, 50);
    assert.equal(r.value.pages, 3);
    assert.equal(r.value.request.dryRun, true, 'dryRun defaults to true and is explicit');

    const bad = validateRequest({ items: Array.from({ length: 200 }, () => ({ account: 'a', id: '' })) });
    assert.ok(!bad.ok);
    assert.equal(bad.problems.length, 51);
    assert.match(bad.problems[50]!, /^\.\.\. and \d+ more problems/);
  });

  test('report writers: CSV quoting and JSON Lines', async () => {
    const outcomes: ItemOutcome[] = [
      {
        account: 'csbs-eu',
        id: 'item-1',
        checkpointId: 'cp-1',
        outcome: 'deleted',
        reason: 'provider confirmed deletion',
        at: '2026-01-01T00:00:00.000Z',
      },
      {
        account: 'vbs-prod',
        id: 'b-2',
        outcome: 'blocked',
        reason: 'in use, by "image" x, y\nsecond line',
        code: 'VolumeBackup.0113',
      },
      { account: 'vbs-prod', id: 'b-3', outcome: 'failed', reason: ' padded ', code: '500' },
    ];
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField(undefined), '');
    assert.equal(
      csvRow(outcomes[1]!),
      'vbs-prod,b-2,,blocked,"in use, by ""image"" x, y\nsecond line",VolumeBackup.0113,,,',
    );

    const csv = await reportToString(outcomes, 'csv');
    assert.equal(csv.split('\n')[0], CSV_HEADER);
    assert.equal(CSV_HEADER, 'account,id,checkpointId,outcome,reason,code,at,sizeBytes,decidedBy');
    const rows = parseCsv(csv);
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[2], [
      'vbs-prod',
      'b-2',
      '',
      'blocked',
      'in use, by "image" x, y\nsecond line',
      'VolumeBackup.0113',
      '',
      '',
      '',
    ]);
    assert.deepEqual(rows[3], ['vbs-prod', 'b-3', '', 'failed', ' padded ', '500', '', '', '']);

    assert.equal(
      jsonlLine(outcomes[0]!),
      '{"account":"csbs-eu","id":"item-1","checkpointId":"cp-1","outcome":"deleted","reason":"provider confirmed deletion","at":"2026-01-01T00:00:00.000Z"}',
    );
    const sink = new PassThrough();
    let written = '';
    sink.on('data', (d: Buffer) => (written += d.toString()));
    assert.equal(await writeReport(outcomes, sink, 'jsonl'), 3);
    assert.deepEqual(
      written
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
      outcomes,
    );
    assert.equal(
      await writeReport(outcomes, new PassThrough().resume(), 'csv'),
      3,
      'the header is not counted',
    );

    // With a summary: its line / # records come first, are not counted, and read back exactly (CSV:
    // a hostile approval comment stays text behind the formula guard).
    const summary = reportSummary(
      {
        workflowId: 'retention-cleanup/x-1',
        dryRun: false,
        cancelled: false,
        total: 3,
        counts: { deleted: 1, absent: 0, blocked: 1, failed: 1, skipped: 0 },
        perAccount: {},
        perProvider: {},
        firstProblems: [],
        batchWorkflowIds: [],
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:01:00.000Z',
      },
      {
        requestHash: 'sha256:ab',
        approval: { approver: 'ops@example.com', comment: '=HYPERLINK("x"), ok', at: 'T', planHash: 'p1' },
      },
    );
    const withSummary = new PassThrough();
    let text = '';
    withSummary.on('data', (d: Buffer) => (text += d.toString()));
    assert.equal(await writeReport(outcomes, withSummary, 'csv', summary), 3, 'the summary is not counted');
    const back = parseCsvReport(text);
    assert.equal(back.summary.approver, 'ops@example.com');
    assert.equal(back.summary.approvalComment, `'=HYPERLINK("x"), ok`);
    assert.equal(back.summary.planHash, 'p1');
    assert.equal(back.summary.blocked, '1');
    assert.deepEqual(back.header, [...CSV_COLUMNS]);
    assert.equal(back.rows.length, 3);
    const [first, ...rest] = (await reportToString(outcomes, 'jsonl', summary)).trim().split('\n');
    assert.deepEqual(JSON.parse(first!), summary);
    assert.deepEqual(
      rest.map((l) => JSON.parse(l) as unknown),
      outcomes,
    );
  });
});

describe('RetentionClient with the dev server', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack.stop());

  test('2,500 items are paged into one run: total 2500, all skipped in a dry run', async () => {
    const account = stack.account('vbs');
    const items = Array.from({ length: 2500 }, (_, i) => ({
      account,
      id: `page-${String(i).padStart(5, '0')}`,
    }));
    const withDuplicates = [...items, ...items.slice(0, 7)];
    const id = await rc.start({ label: 'paging', items: withDuplicates });
    const summary = await rc.result(id);
    assert.equal(summary.total, 2500);
    assert.equal(summary.dryRun, true);
    assert.deepEqual(summary.counts, { deleted: 0, absent: 0, blocked: 0, failed: 0, skipped: 2500 });
    assert.equal(summary.batchWorkflowIds.length, 5);
    // Every item exactly once (batches may interleave pages, so the order is by batch).
    const outcomes = await reportOf(rc, id);
    assert.equal(outcomes.length, 2500);
    assertOneOutcomeEach(outcomes, items);
  });

  test('follow reports progress and resolves with the summary; status shows the finished run', async () => {
    const backups = vbsBackups(40, 'follow');
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const account = stack.account('vbs');
    const id = await rc.start(
      { dryRun: false, items: backups.map((b) => ({ account, id: b.id })) },
      { startedBy: 'client-test' },
    );
    const seen: RunProgress[] = [];
    const errors: unknown[] = [];
    const summary = await rc.follow(id, {
      intervalMs: 100,
      onProgress: (p) => seen.push(p),
      onProgressError: (e) => errors.push(e),
    });
    assert.deepEqual(errors, []);
    assert.equal(summary.counts.deleted, 40);
    assert.ok(seen.length >= 1, 'at least one progress report');
    assert.ok(seen.every((p) => p.workflowId === id && (p.total === 40 || p.state === 'starting')));
    assert.ok(seen.some((p) => p.total === 40));
    assert.ok(
      seen.every((p, i) => i === 0 || p.done >= seen[i - 1]!.done),
      'progress never goes back',
    );

    const st = await rc.status(id);
    assert.equal(st.status, 'COMPLETED');
    assert.equal(st.summary?.counts.deleted, 40);
    assert.equal(st.progress, undefined);
    await assert.rejects(rc.status('retention-cleanup/no-such-run'), WorkflowNotFoundError);

    // Stopping a follow does not stop the run.
    const slow = await rc.start({ items: [{ account, id: 'x' }], itemsToFollow: true });
    const ac = new AbortController();
    const following = rc.follow(slow, { intervalMs: 50, signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(following, (e: unknown) => (e as Error).name === 'AbortError');
    assert.equal((await rc.status(slow)).status, 'RUNNING');
    await rc.seal(slow);
    assert.equal((await rc.result(slow)).total, 1);
  });

  test('addItems pages items into a run started with itemsToFollow, then seal ends it', async () => {
    const account = stack.account('vbs');
    const id = await rc.start({
      label: 'open run',
      itemsToFollow: true,
      items: [{ account, id: 'open-first' }],
    });
    const more = Array.from({ length: 1200 }, (_, i) => ({ account, id: `open-${i}` }));
    const added = await rc.addItems(id, [...more, more[0]!]);
    assert.equal(added.accepted, 1200);
    assert.equal(added.total, 1201);
    assert.equal((await rc.getProgress(id)).total, 1201);
    await rc.seal(id);
    const summary = await rc.result(id);
    assert.equal(summary.total, 1201);
    assert.equal(summary.counts.skipped, 1201);
  });
});
