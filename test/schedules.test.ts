/**
 * Temporal Schedules that start cleanup runs, through the CLI (`retention-cleanup schedule ...`) and
 * the client helpers, against the real dev server with this test's worker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { InvalidRequestError } from '../client/request-validation';
import { RetentionClient } from '../client/retention-client';
import { scheduleWorkflowId, type ScheduleInfo } from '../client/schedules';
import { runCli, show } from './helpers/run-cli';
import { waitFor } from './helpers/runs';
import { startStack, temporalAddress, vbsBackups, type Stack } from './helpers/stack';

describe('schedules', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let dir: string;
  let requestFile: string;
  const created: string[] = [];
  const suffix = randomUUID().slice(0, 8);

  const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(args, { env: { TEMPORAL_ADDRESS: temporalAddress(), ...env } });
  const describeJson = async (id: string) => {
    const r = await cli(['schedule', 'describe', id, '--json']);
    assert.equal(r.code, 0, show(r));
    return JSON.parse(r.stdout) as ScheduleInfo;
  };

  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
    dir = mkdtempSync(join(tmpdir(), 'rc-schedules-'));
    const account = stack.account('vbs');
    requestFile = join(dir, 'nightly.json');
    writeFileSync(
      requestFile,
      JSON.stringify({
        label: 'nightly',
        dryRun: false,
        items: vbsBackups(3, 'sched').map((b) => ({ account, id: b.id })),
      }),
    );
  });
  after(async () => {
    for (const id of created) await rc.schedules.delete(id).catch(() => undefined);
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('schedule options and the request are validated before Temporal is contacted', async () => {
    // A client whose connection points nowhere: any call to Temporal would fail or hang.
    const offline = new RetentionClient(
      new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
    );
    const problemsOf = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => assert.fail('expected InvalidRequestError'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof InvalidRequestError, String(err));
      return err.problems.join('\n');
    };
    const request = { items: [{ account: 'a', id: 'b' }] };
    const t0 = Date.now();
    assert.match(
      await problemsOf(offline.schedules.create({ scheduleId: 'x', request })),
      /^cron: give either cron .* or every/m,
    );
    const both = await problemsOf(
      offline.schedules.create({ scheduleId: 'x', request, cron: '0 3 * *', every: '24h' }),
    );
    assert.match(both, /^cron: expected 5 fields .* got 4$/m);
    assert.match(both, /^every: give either cron or every, not both$/m);
    assert.match(
      await problemsOf(offline.schedules.create({ scheduleId: 'x', request, every: '1 day' })),
      /^every: expected a duration/m,
    );
    assert.match(
      await problemsOf(offline.schedules.create({ scheduleId: 'has space', request, every: '24h' })),
      /^scheduleId: /m,
    );
    assert.match(
      await problemsOf(
        offline.schedules.create({ scheduleId: 'x', request, every: '24h', overlap: 'sometimes' as never }),
      ),
      /^overlap: expected one of skip, buffer_one/m,
    );
    assert.match(
      await problemsOf(
        offline.schedules.create({ scheduleId: 'x', request, every: '24h', catchupWindow: '5s' }),
      ),
      /^catchupWindow: at least 10s/m,
    );
    assert.match(
      await problemsOf(
        offline.schedules.create({
          scheduleId: 'x',
          request: { items: [{ account: 'a' }] } as never,
          every: '24h',
        }),
      ),
      /^request\.items\[0\]\.id: /m,
    );
    const many = Array.from({ length: 1001 }, (_, i) => ({ account: 'a', id: `b${i}` }));
    assert.match(
      await problemsOf(offline.schedules.create({ scheduleId: 'x', request: { items: many }, every: '24h' })),
      /^request\.items: a schedule hands its request to every run .* at most 1000 items \(this one has 1001\)/m,
    );
    assert.match(
      await problemsOf(
        offline.schedules.create({ scheduleId: 'x', request: { itemsToFollow: true }, every: '24h' }),
      ),
      /^request\.itemsToFollow: a scheduled run cannot receive more items/m,
    );
    assert.match(
      await problemsOf(offline.schedules.backfill('x', { start: 'yesterday', end: '2026-01-01T00:00:00Z' })),
      /^start: expected an ISO time/m,
    );
    assert.match(
      await problemsOf(
        offline.schedules.backfill('x', { start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }),
      ),
      /^end: must be after start/m,
    );
    assert.ok(Date.now() - t0 < 2000, 'validation never waited for a connection');

    // The CLI too: exit 2 naming the field, without reaching the (unreachable) server.
    const unreachable = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const noSpec = await cli(['schedule', 'create', 'x', requestFile], unreachable);
    assert.equal(noSpec.code, 2, show(noSpec));
    assert.match(noSpec.stderr, /^ {2}cron: give either cron/m);
    const badBackfill = await cli(
      ['schedule', 'backfill', 'x', '--start', '2026-01-02T00:00:00Z', '--end', '2026-01-01T00:00:00Z'],
      unreachable,
    );
    assert.equal(badBackfill.code, 2, show(badBackfill));
    assert.match(badBackfill.stderr, /end: must be after start/);
  });

  test('create --every, list, describe, trigger, runs, pause/unpause, backfill and delete', async () => {
    const id = `rc-every-${suffix}`;
    created.push(id);
    const tq = ['--task-queue', stack.taskQueue];

    const create = await cli(['schedule', 'create', id, requestFile, '--every', '24h', ...tq, '--json']);
    assert.equal(create.code, 0, show(create));
    assert.match(
      create.stderr,
      /dry run: nothing will be deleted .*"dryRun": false is ignored without --execute/,
    );
    const info = JSON.parse(create.stdout) as ScheduleInfo;
    assert.equal(info.scheduleId, id);
    assert.equal(info.spec, 'every 24h');
    assert.equal(info.overlap, 'skip');
    assert.equal(info.catchupWindow, '1h');
    assert.equal(info.dryRun, true);
    assert.equal(info.items, 3);
    assert.equal(info.label, 'nightly');
    assert.equal(info.paused, false);
    assert.equal(info.taskQueue, stack.taskQueue);
    assert.equal(info.workflowIdPrefix, scheduleWorkflowId(id));
    assert.equal(info.nextRuns.length > 0, true);

    const again = await cli(['schedule', 'create', id, requestFile, '--every', '24h', ...tq]);
    assert.equal(again.code, 2, show(again));
    assert.match(again.stderr, /already exists/);

    // Listing is eventually consistent: wait until the server's visibility has it, then ask the CLI.
    await waitFor(
      'the schedule in the list',
      async () => (await rc.schedules.list()).some((s) => s.scheduleId === id),
      30_000,
      500,
    );
    const list = await cli(['schedule', 'list']);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /^SCHEDULE +SPEC +STATE +MODE +ITEMS +NEXT RUN +LAST RUN$/m);
    assert.match(list.stdout, new RegExp(`^${id} +every 24h +active +dry run +3 `, 'm'));

    const text = await cli(['schedule', 'describe', id]);
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout, /^Spec: +every 24h$/m);
    assert.match(text.stdout, /^Request: +3 item\(s\), label "nightly", DRY RUN/m);
    assert.match(text.stdout, /^Policies: +overlap skip, catch-up window 1h$/m);

    // trigger → a run with a workflow ID derived from the schedule ID, which completes.
    const trigger = await cli(['schedule', 'trigger', id]);
    assert.equal(trigger.code, 0, show(trigger));
    const runId = trigger.stdout.trim();
    assert.ok(runId.startsWith(`${scheduleWorkflowId(id)}-`), runId);
    const summary = await rc.result(runId);
    assert.equal(summary.dryRun, true);
    assert.deepEqual(summary.counts, { deleted: 0, absent: 0, blocked: 0, failed: 0, skipped: 3 });
    assert.equal(summary.label, 'nightly');
    const described = await describeJson(id);
    assert.equal(described.actionsTaken, 1);
    assert.deepEqual(
      described.recentRuns.map((r) => r.workflowId),
      [runId],
    );
    await waitFor(
      "the run in the schedule's runs",
      async () =>
        (await rc.schedules.runs(id)).some((r) => r.workflowId === runId && r.status === 'COMPLETED'),
      30_000,
      500,
    );
    const runs = await cli(['schedule', 'runs', id]);
    assert.equal(runs.code, 0, show(runs));
    assert.match(runs.stdout, new RegExp(`${runId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +COMPLETED`));

    // pause / unpause
    const pause = await cli(['schedule', 'pause', id, '--note', 'change freeze']);
    assert.equal(pause.code, 0, show(pause));
    const paused = await describeJson(id);
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'change freeze');
    const unpause = await cli(['schedule', 'unpause', id]);
    assert.equal(unpause.code, 0, show(unpause));
    assert.equal((await describeJson(id)).paused, false);

    // backfill: the three midnights (UTC) in the range, each a run of its own.
    const backfill = await cli([
      'schedule',
      'backfill',
      id,
      '--start',
      '2025-12-31T12:00:00Z',
      '--end',
      '2026-01-03T12:00:00Z',
      '--overlap',
      'allow_all',
    ]);
    assert.equal(backfill.code, 0, show(backfill));
    const afterBackfill = await waitFor(
      'three backfilled runs',
      async () => {
        const d = await rc.schedules.describe(id);
        return d.actionsTaken >= 4 ? d : undefined;
      },
      30_000,
      500,
    );
    const backfilled = afterBackfill.recentRuns
      .map((r) => r.workflowId)
      .filter((w) => w !== runId)
      .sort();
    assert.deepEqual(backfilled, [
      `${scheduleWorkflowId(id)}-2026-01-01T00:00:00Z`,
      `${scheduleWorkflowId(id)}-2026-01-02T00:00:00Z`,
      `${scheduleWorkflowId(id)}-2026-01-03T00:00:00Z`,
    ]);
    for (const w of backfilled) assert.equal((await rc.result(w)).counts.skipped, 3);

    const del = await cli(['schedule', 'delete', id]);
    assert.equal(del.code, 0, show(del));
    const gone = await cli(['schedule', 'describe', id]);
    assert.equal(gone.code, 2, show(gone));
    assert.match(gone.stderr, new RegExp(`no schedule "${id}"`));
  });

  test('create --cron --execute --paused; trigger --follow prints the summary', async () => {
    const id = `rc-cron-${suffix}`;
    created.push(id);
    const account = stack.account('vbs');
    const backups = vbsBackups(4, `cron-${suffix}`);
    stack.sim.seed('vbs', stack.scope('vbs'), backups);
    const file = join(dir, 'cron.yaml');
    writeFileSync(
      file,
      `label: cron\nitems:\n${backups.map((b) => `  - {account: ${account}, id: ${b.id}}`).join('\n')}\n`,
    );

    const create = await cli([
      'schedule',
      'create',
      id,
      file,
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Europe/Berlin',
      '--overlap',
      'BUFFER-ONE',
      '--catchup-window',
      '2h',
      '--execute',
      '--paused',
      '--task-queue',
      stack.taskQueue,
    ]);
    assert.equal(create.code, 0, show(create));
    assert.match(create.stderr, /--execute: every run of this schedule DELETES backups/);
    assert.match(create.stdout, /^Schedule: +rc-cron-\S+ +\(PAUSED\)$/m);
    assert.match(create.stdout, /^Request: +4 item\(s\), label "cron", EXECUTE \(deletes\)$/m);
    const info = await describeJson(id);
    assert.equal(info.spec, 'cron 0 3 * * * (Europe/Berlin)');
    assert.equal(info.dryRun, false);
    assert.equal(info.paused, true);
    assert.equal(info.overlap, 'buffer_one');
    assert.equal(info.catchupWindow, '2h');

    // A trigger runs even while the schedule is paused.
    const run = await cli(['schedule', 'trigger', id, '--follow', '--interval', '200ms']);
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, /triggered rc-cron-\S+: run retention-cleanup\/scheduled\/rc-cron-/);
    assert.match(run.stdout, /^TOTAL +4 +0 +0 +0 +0 +4$/m);
    const left = stack.sim
      .provider('vbs')
      .list(stack.scope('vbs'))
      .filter((b) => (b as { id: string }).id.startsWith(`cron-${suffix}`));
    assert.deepEqual(left, [], 'the scheduled run deleted the backups');

    const badCron = await cli(['schedule', 'create', `rc-bad-${suffix}`, file, '--cron', 'every night']);
    assert.equal(badCron.code, 2, show(badCron));
    assert.match(badCron.stderr, /cron: expected 5 fields/);
  });
});
