/**
 * Run control through the real dev server: pause stops new deletions within a pipelined group's window
 * (PIPELINE_WINDOW_MS: items a lane already handed to a group may start until it closes) and resume
 * continues; cancel ends the run with a report in which every item has exactly one outcome
 * (items never started end `skipped`, with the reason, and were never sent to the provider); the
 * progress query's fields; and the lane's setConcurrency update (refused above the configured maximum
 * with a message naming the field, honoured below it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { RetentionClient } from '../client/retention-client';
import { accountLimits } from '../worker/config';
import { accountLane, PIPELINE_WINDOW_MS } from '../workflows/account-lane';
import { laneWorkflowId } from '../contract/ids';
import { laneStatusQuery, setConcurrencyUpdate } from '../contract/messages';
import { SA } from '../workflows/search-attributes';
import { assertNoRepeats, deleteRequests } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const POLL_MS = 500;

describe('run control', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        ctl: { provider: 'vbs', limits: { maxConcurrent: 5, pollInterval: `${POLL_MS}ms` } },
        other: { provider: 'vbs', limits: { maxConcurrent: 5, pollInterval: `${POLL_MS}ms` } },
        conc: { provider: 'vbs', limits: { maxConcurrent: 5, pollInterval: `${POLL_MS}ms` } },
      },
      { sim: { timings: { deleteMs: { vbs: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  const accepted = (scope: string) =>
    Object.entries(stack.sim.ctx.counters.snapshot().acceptedDeletes)
      .filter(([k]) => k.startsWith(`vbs:${scope}:`))
      .reduce((n, [, v]) => n + v, 0);

  test("pause stops new deletions within a group's window, resume continues; progress fields", async () => {
    // Two accounts, so the pause has to reach two lanes.
    const a = stack.account('ctl');
    const b = stack.account('other');
    const backupsA = vbsBackups(150, 'pause-a');
    const backupsB = vbsBackups(150, 'pause-b');
    stack.sim.seed('vbs', stack.scope('ctl'), backupsA);
    stack.sim.seed('vbs', stack.scope('other'), backupsB);
    const items = [
      ...backupsA.map((x) => ({ account: a, id: x.id })),
      ...backupsB.map((x) => ({ account: b, id: x.id })),
    ];
    const runId = await rc.start({ items, dryRun: false, label: 'pause resume' });
    const total = () => accepted(stack.scope('ctl')) + accepted(stack.scope('other'));

    const p = await waitFor('progress with outcomes in both accounts', async () => {
      const pr = await rc.getProgress(runId);
      return Object.keys(pr.perAccount).length === 2 && pr.done >= 20 ? pr : undefined;
    });
    assert.equal(p.workflowId, runId);
    assert.equal(p.state, 'running');
    assert.equal(p.dryRun, false);
    assert.equal(p.label, 'pause resume');
    assert.equal(p.total, 300);
    assert.equal(
      p.done,
      p.counts.deleted + p.counts.absent + p.counts.blocked + p.counts.failed + p.counts.skipped,
    );
    assert.ok(p.counts.deleted > 0);
    assert.equal(p.perAccount[a]?.provider, 'vbs');
    assert.ok((p.perAccount[a]?.counts.deleted ?? 0) > 0 && (p.perAccount[b]?.counts.deleted ?? 0) > 0);
    assert.ok(p.inFlight > 0 && p.inFlight <= 300 - p.done, `inFlight ${p.inFlight}`);
    assert.deepEqual(p.batches, { total: 1, active: 1, done: 0 });
    assert.ok(p.ratePerMinute > 0, `rate ${p.ratePerMinute}`);
    assert.ok(typeof p.etaSeconds === 'number' && p.etaSeconds >= 0, `eta ${p.etaSeconds}`);
    assert.ok(!Number.isNaN(Date.parse(p.startedAt)));

    // Spy on the simulator: when was each deletion accepted?
    const counters = stack.sim.ctx.counters;
    let lastAcceptAt: number | undefined;
    const original = counters.deletionInProgress.bind(counters);
    counters.deletionInProgress = (acc, start, end) => {
      lastAcceptAt = Math.max(lastAcceptAt ?? 0, start);
      original(acc, start, end);
    };
    const pausedAt = Date.now();
    await rc.pause(runId, 'maintenance window');
    // The pause has taken effect once both lanes have nothing in flight: deletions accepted before it
    // reached them finished, and none was started since (an event, not a sleep: a loaded machine only
    // makes this wait longer).
    const laneStatus = () =>
      Promise.all(
        [a, b].map((acc) => stack.client.workflow.getHandle(laneWorkflowId(acc)).query(laneStatusQuery)),
      );
    await waitFor('both lanes quiet after the pause', async () =>
      (await laneStatus()).every((l) => l.inFlight === 0) ? true : undefined,
    );
    const atPause = total();
    const lag = lastAcceptAt === undefined ? undefined : lastAcceptAt - pausedAt;
    // How long the pause took to stop new deletions is a figure, not an assertion (group window
    // ${PIPELINE_WINDOW_MS} ms plus the way through run and batch); test/pipelined-groups checks that a
    // group started before the pause hands its unstarted items back.
    console.log(
      lag === undefined
        ? 'no deletion accepted after the pause was sent'
        : `last deletion accepted ${lag} ms after the pause was sent (group window ${PIPELINE_WINDOW_MS} ms)`,
    );
    assert.equal((await rc.getProgress(runId)).state, 'paused');
    // While paused, the same lane keeps serving other runs: a second run on account `ctl` runs to its
    // end, and not one more deletion of the paused run is accepted meanwhile.
    const others = vbsBackups(10, 'while-paused');
    stack.sim.seed('vbs', stack.scope('ctl'), others);
    const otherRun = await rc.start({ items: others.map((x) => ({ account: a, id: x.id })), dryRun: false });
    assert.deepEqual((await rc.result(otherRun)).counts, {
      deleted: 10,
      absent: 0,
      blocked: 0,
      failed: 0,
      skipped: 0,
    });
    assert.equal(total() - 10, atPause, 'no deletion of the paused run was accepted while it was paused');
    for (const l of await laneStatus())
      assert.equal(l.inFlight, 0, `lane ${l.account} has nothing in flight while paused`);
    assert.ok(atPause < 300, 'the pause came before the end');
    // Search attributes and memo from the start, so a running run can be found in the Web UI.
    const running = await rc.handle(runId).describe();
    assert.deepEqual(running.typedSearchAttributes.get(SA.accounts), [a, b].sort());
    assert.deepEqual(running.typedSearchAttributes.get(SA.providers), ['vbs']);
    assert.equal(running.typedSearchAttributes.get(SA.dryRun), false);
    assert.equal(running.typedSearchAttributes.get(SA.total), 300);
    assert.equal(running.memo?.label, 'pause resume');
    console.log(`paused after ${atPause}/300 accepted deletions; none while another run used the lane`);

    counters.deletionInProgress = original;
    await rc.resume(runId);
    await waitFor('deletions after resume', () => total() > atPause + 10, 10_000);
    const summary = await rc.result(runId);
    assert.deepEqual(summary.counts, { deleted: 300, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assert.equal(summary.cancelled, false);
    // ...and at the end, the outcome counts.
    const done = await rc.handle(runId).describe();
    assert.equal(done.typedSearchAttributes.get(SA.deleted), 300);
    assert.equal(done.typedSearchAttributes.get(SA.problems), 0);
    assert.deepEqual((done.memo as { counts?: unknown } | undefined)?.counts, summary.counts);
    assertOneOutcomeEach(await reportOf(rc, runId), items);
    assert.ok(Object.values(stack.sim.ctx.counters.snapshot().acceptedDeletes).every((n) => n === 1));
    assertNoRepeats(stack.sim, '', 'no delete request after acceptance across pause and resume');
  });

  test('cancel: every item ends with exactly one outcome; never-started ones skipped, never sent', async () => {
    const a = stack.account('ctl');
    const backups = vbsBackups(1200, 'cancel');
    stack.sim.seed('vbs', stack.scope('ctl'), backups);
    const items = backups.map((x) => ({ account: a, id: x.id }));
    // 1200 items: three batches (one still waiting), sent in pages through addItems.
    const runId = await rc.start({ items, dryRun: false, label: 'to be cancelled' });
    await waitFor('some deletions', async () => (await rc.getProgress(runId)).done >= 20);
    await rc.cancel(runId, 'changed my mind');
    const summary = await rc.result(runId);
    assert.equal(summary.cancelled, true);
    assert.equal(summary.total, 1200);
    assert.equal(summary.batchWorkflowIds.length, 3);
    const outcomes = await reportOf(rc, runId);
    const byKey = assertOneOutcomeEach(outcomes, items);
    const acceptedDeletes = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    let skipped = 0;
    for (const o of byKey.values()) {
      const n = acceptedDeletes[`vbs:${stack.scope('ctl')}:${o.id}`] ?? 0;
      if (o.outcome === 'skipped') {
        skipped++;
        assert.match(o.reason, /cancelled before this item was (started|sent)/);
        assert.equal(n, 0, `${o.id} was skipped, so it was never deleted`);
      } else {
        assert.equal(o.outcome, 'deleted', `${o.id}: ${o.outcome} ${o.reason}`);
        assert.equal(n, 1);
      }
    }
    assert.equal(summary.counts.skipped, skipped);
    assert.equal(summary.counts.deleted + skipped, 1200);
    assert.ok(skipped > 1000, `most items were skipped (${skipped})`);
    assertNoRepeats(
      stack.sim,
      `vbs:${stack.scope('ctl')}:`,
      'no delete request after acceptance around the cancel',
    );
    for (const o of byKey.values())
      if (o.outcome === 'skipped')
        assert.equal(
          deleteRequests(stack.sim, `vbs:${stack.scope('ctl')}:${o.id}`)[`vbs:${stack.scope('ctl')}:${o.id}`],
          undefined,
          `${o.id} skipped: no delete request at all`,
        );
    console.log(`cancelled: ${summary.counts.deleted} deleted, ${skipped} skipped`);
  });

  test('re-running a request after a partial run touches only what is left; the rest reports absent', async () => {
    const a = stack.account('other');
    const scope = stack.scope('other');
    const backups = vbsBackups(150, 'rerun');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((x) => ({ account: a, id: x.id }));
    const request = { items, dryRun: false, label: 'partial, then again' };
    // Slow deletions: 5 at once at 1 s each cannot finish 150 items before the cancel lands.
    stack.sim.setTimings({ deleteMs: { vbs: 1_000 } });
    const first = await rc.start(request);
    await waitFor('some deletions', async () => (await rc.getProgress(first)).done >= 10);
    await rc.cancel(first, 'stopped halfway');
    const partial = await rc.result(first);
    stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    assert.ok(partial.counts.skipped > 0, 'the first run left items undone');

    const second = await rc.start(request);
    const summary = await rc.result(second);
    const outcomes = assertOneOutcomeEach(await reportOf(rc, second), items);
    const firstOutcomes = assertOneOutcomeEach(await reportOf(rc, first), items);
    const acceptedDeletes = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    for (const [key, o] of outcomes) {
      const before = firstOutcomes.get(key)!;
      // Whatever the first run deleted (or saw finish) is gone now; the second run deletes the rest.
      assert.equal(
        o.outcome,
        before.outcome === 'deleted' ? 'absent' : 'deleted',
        `${o.id} after ${before.outcome}`,
      );
      assert.equal(acceptedDeletes[`vbs:${scope}:${o.id}`], 1, `${o.id} deleted exactly once over both runs`);
    }
    assert.equal(summary.counts.absent, partial.counts.deleted);
    assert.equal(summary.counts.deleted, partial.counts.skipped);
    assert.deepEqual(stack.sim.provider('vbs').list(scope), []);
    console.log(
      `re-run: ${summary.counts.absent} absent (deleted by the first run), ${summary.counts.deleted} deleted now`,
    );
  });

  test('setConcurrency on a lane: refused above the configured maximum, honoured below it', async () => {
    const account = stack.account('conc');
    const limits = accountLimits(account, stack.loaded.config.accounts[account]!);
    // The lane is started on its own first (as an operator's update-with-start would), idle.
    const lane = await stack.client.workflow.start(accountLane, {
      workflowId: laneWorkflowId(account),
      taskQueue: stack.taskQueue,
      args: [{ account, limits }],
    });
    for (const bad of [6, 0, 2.5]) {
      await assert.rejects(
        lane.executeUpdate(setConcurrencyUpdate, { args: [{ concurrency: bad }] }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
          assert.match(String(err.cause?.message), /^concurrency: must be a whole number from 1 to 5/);
          return true;
        },
      );
    }
    assert.deepEqual(await lane.executeUpdate(setConcurrencyUpdate, { args: [{ concurrency: 2 }] }), {
      concurrency: 2,
      max: 5,
    });
    assert.equal((await lane.query(laneStatusQuery)).concurrency, 2);

    const backups = vbsBackups(30, 'conc');
    stack.sim.seed('vbs', stack.scope('conc'), backups);
    const runId = await rc.start({ items: backups.map((x) => ({ account, id: x.id })), dryRun: false });
    const summary = await rc.result(runId);
    assert.equal(summary.counts.deleted, 30);
    const max = stack.sim.ctx.counters.maxConcurrent(`vbs:${stack.scope('conc')}`);
    console.log(`after setConcurrency 2: observed maximum ${max}`);
    assert.equal(max, 2, 'the lowered window was honoured, and used');
  });
});
