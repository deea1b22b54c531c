/**
 * Deletion safety under misuse (README, "Guarantees"), black-box through the real dev server, the
 * worker and the simulator:
 *  - guards hold for item lists as for policies (request guards and the config's maxDeletionsPerRun,
 *    which no request can raise); fraction guards on an item list are refused;
 *  - one deletion per backup: the same backup in two pages (sent straight to the workflow), in the start
 *    items and a page, in a retried addItems, and the same Veeam VMs in two concurrent runs;
 *  - Temporal's own controls: a cancel through Temporal behaves like the cancel signal, a terminate
 *    stops the batches, a cancel during discovery ends the run cleanly;
 *  - a request naming an account like `constructor` fails with UnknownAccount, it does not hang;
 *  - the worker config is the authority: a lowered maxConcurrent is not pushed back up by an older run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidRequestError, RetentionClient } from '../client/retention-client';
import type { VeeamVm } from '../simulator/veeam';
import { PIPELINE_WINDOW_MS } from '../workflows/account-lane';
import { batchWorkflowId, laneWorkflowId } from '../contract/ids';
import { addItemsUpdate, laneStatusQuery, sealItemsUpdate } from '../contract/messages';
import type { ItemRef } from '../workflows/model';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

/** A deletion accepted this long after a stop may still have been handed to a group before it. */
const STOP_ALLOWANCE_MS = PIPELINE_WINDOW_MS + 3_000;

function veeamVms(n: number, prefix: string): VeeamVm[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    restorePoints: [{ id: `${prefix}-${i}-rp`, pointInTime: '2025-01-01T00:00:00Z' }],
  }));
}

describe('deletion safety under misuse', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        grd: { provider: 'vbs', limits: { maxConcurrent: 5 } },
        ceil: { provider: 'vbs', limits: { maxConcurrent: 5, maxDeletionsPerRun: 3 } },
        dup: { provider: 'vbs', limits: { maxConcurrent: 4 } },
        vm: { provider: 'veeam', limits: { maxConcurrent: 3 } },
        ctl: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
        disc: { provider: 'vbs', limits: { maxConcurrent: 3 } },
        auth: { provider: 'vbs', limits: { maxConcurrent: 6, pollInterval: '100ms' } },
      },
      { sim: { timings: { deleteMs: { vbs: 300, veeam: 400 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  const counters = () => stack.sim.ctx.counters.snapshot();
  /** Delete calls that reached the simulator's VBS logic for a scope, by backup id. */
  const vbsDeleteCalls = (name: string) =>
    Object.entries(counters().deleteCalls).filter(([k]) => k.startsWith(`vbs:${stack.scope(name)}:`));
  const seedVbs = (name: string, n: number, prefix = name) => {
    const backups = vbsBackups(n, prefix);
    stack.sim.seed('vbs', stack.scope(name), backups);
    return backups.map((b) => ({ account: stack.account(name), id: b.id }));
  };
  const guardFailure = async (runId: string) => {
    const err = await rc.result(runId).then(
      () => assert.fail('the run should have failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = err.cause as { type?: string; message?: string };
    assert.equal(cause.type, 'GuardViolation', String(cause.message));
    return String(cause.message);
  };

  test('an item list crossing maxDeletions stops before its first delete', async () => {
    const items = seedVbs('grd', 20, 'grd-a');
    const runId = await rc.start({ items, dryRun: false, guards: { maxDeletions: 5 } });
    assert.match(
      await guardFailure(runId),
      /maxDeletions: the plan would delete 20 backups .*limit 5.*15 over/,
    );
    assert.deepEqual(vbsDeleteCalls('grd'), [], 'nothing was sent to the provider');
    // The same list as a dry run completes and reports the violation.
    const dry = await rc.result(await rc.start({ items, dryRun: true, guards: { maxDeletions: 5 } }));
    assert.match(dry.guardViolations?.join('\n') ?? '', /maxDeletions/);
  });

  test("the config's maxDeletionsPerRun holds whatever the request says, paged runs included", async () => {
    const items = seedVbs('ceil', 5, 'ceil-a');
    for (const guards of [undefined, { maxDeletions: 100, maxDeletionsPerAccount: 100 }]) {
      const runId = await rc.start({ items, dryRun: false, ...(guards ? { guards } : {}) });
      assert.match(
        await guardFailure(runId),
        /maxDeletionsPerRun: .*5 backups on account .*limit 3, from the worker config's accounts\..*\.limits\.maxDeletionsPerRun/,
      );
    }
    // 1,200 items through addItems pages: the first page's batches wait for the seal, then the check.
    const many = seedVbs('grd', 1_200, 'grd-paged');
    const paged = await rc.start({ items: many, dryRun: false, guards: { maxDeletionsPerAccount: 1_100 } });
    assert.match(await guardFailure(paged), /maxDeletionsPerAccount: .*1200 backups .*100 over/);
    assert.deepEqual(vbsDeleteCalls('ceil'), []);
    assert.deepEqual(
      vbsDeleteCalls('grd').filter(([k]) => k.includes('grd-paged')),
      [],
      'no page of the paged run was deleted',
    );
  });

  test('fraction guards need a listing: an item list with one is refused, naming the guard', async () => {
    const items = [{ account: stack.account('grd'), id: 'x' }];
    await assert.rejects(
      rc.start({ items, dryRun: false, guards: { maxFractionPerAccount: 0.5 } }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidRequestError);
        assert.match(e.message, /guards\.maxFractionPerAccount: needs a listing/);
        return true;
      },
    );
    // Sent straight to Temporal, as the Web UI would: the workflow refuses it too.
    const handle = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `frac-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ items, dryRun: false, guards: { maxFractionPerGroup: 0.5 } }],
    });
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.match(
        String((e as WorkflowFailedError).cause?.message),
        /guards\.maxFractionPerGroup: needs a listing/,
      );
      return true;
    });
  });

  test('the same backup in the start items, two pages and a retried page is deleted once, reported once', async () => {
    const items = seedVbs('dup', 50, 'dup');
    const handle = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `dup-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ items: items.slice(0, 10), itemsToFollow: true, dryRun: false }],
    });
    const page = (from: number, to: number): ItemRef[] => items.slice(from, to);
    await handle.executeUpdate(addItemsUpdate, { args: [{ items: page(5, 30) }], updateId: 'p1' });
    await handle.executeUpdate(addItemsUpdate, { args: [{ items: page(20, 50) }], updateId: 'p2' });
    // A client retrying page 2 with its update id: the server answers the first call's result.
    await handle.executeUpdate(addItemsUpdate, { args: [{ items: page(20, 50) }], updateId: 'p2' });
    await handle.executeUpdate(sealItemsUpdate);
    const summary = await handle.result();
    assert.equal(summary.total, 50, JSON.stringify(summary.counts));
    assert.equal(summary.counts.deleted + summary.counts.absent, 50, JSON.stringify(summary.counts));
    assert.equal(summary.batchWorkflowIds.length, 3, 'the retried page made no batch');
    const byKey = assertOneOutcomeEach(await reportOf(rc, handle.workflowId), items);
    assert.equal(byKey.size, 50);
    const calls = vbsDeleteCalls('dup');
    assert.equal(calls.length, 50);
    assert.deepEqual(
      calls.filter(([, n]) => n !== 1),
      [],
      'one delete request per backup',
    );
    assertNoRepeats(stack.sim, `vbs:${stack.scope('dup')}:`);
  });

  test('the same Veeam VMs in two concurrent runs and twice in one: one job session per VM', async () => {
    const scope = stack.scope('vm');
    const vms = veeamVms(12, 'dupvm');
    stack.sim.seed('veeam', scope, vms);
    const account = stack.account('vm');
    const items = vms.map((v) => ({ account, id: v.id }));
    const a = stack.client.workflow.start(retentionCleanup, {
      workflowId: `vm-a-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ items, itemsToFollow: true, dryRun: false }],
    });
    const b = rc.start({ items: [...items].reverse(), dryRun: false, label: 'concurrent' });
    const [ha, runB] = await Promise.all([a, b]);
    // Run A gets the same VMs again in a page.
    await ha.executeUpdate(addItemsUpdate, { args: [{ items: items.slice(0, 6) }] });
    await ha.executeUpdate(sealItemsUpdate);
    const [sa, sb] = await Promise.all([ha.result(), rc.result(runB)]);
    for (const v of vms)
      assert.equal(counters().sessionsPerVm[`veeam:${scope}:${v.id}`], 1, `${v.id}: one deleteBackups`);
    assertNoRepeats(stack.sim, `veeam:${scope}:`);
    assert.equal(sa.total, 12);
    assert.equal(sb.total, 12);
    const outcomesA = assertOneOutcomeEach(await reportOf(rc, ha.workflowId), items);
    const outcomesB = assertOneOutcomeEach(await reportOf(rc, runB), items);
    for (const o of [...outcomesA.values(), ...outcomesB.values()])
      assert.ok(o.outcome === 'deleted' || o.outcome === 'absent', `${o.id}: ${o.outcome} ${o.reason}`);
    assert.equal(
      [...outcomesA.values(), ...outcomesB.values()].filter(
        (o) => o.outcome === 'deleted' && !/joined/.test(o.reason),
      ).length,
      12,
      `each VM deleted by exactly one run; the other joined or found it gone: ${JSON.stringify([...outcomesA.values(), ...outcomesB.values()].map((o) => [o.id, o.outcome, o.reason]))}`,
    );
  });

  test('a cancel through Temporal stops like the cancel signal; the run completes with its report', async () => {
    stack.sim.setTimings({ deleteMs: { vbs: 1_000 } });
    try {
      const items = seedVbs('ctl', 90, 'tcancel');
      const runId = await rc.start({ items, dryRun: false, label: 'temporal cancel' });
      await waitFor('some deletions', async () => (await rc.getProgress(runId)).done >= 6);
      const cancelledAt = Date.now();
      await rc.handle(runId).cancel();
      const summary = await resultWithin(rc, runId, 120_000);
      assert.equal(summary.cancelled, true);
      assert.match(summary.cancelReason ?? '', /through Temporal/);
      assert.equal((await rc.handle(runId).describe()).status.name, 'COMPLETED');
      const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
      const accepted = counters().acceptedDeletes;
      const skipped = [...byKey.values()].filter((o) => o.outcome === 'skipped');
      assert.ok(skipped.length > 30, `most items were skipped (${skipped.length})`);
      for (const o of skipped)
        assert.equal(accepted[`vbs:${stack.scope('ctl')}:${o.id}`] ?? 0, 0, `${o.id} skipped, never sent`);
      const late = stack.sim.ctx.counters
        .starts(`vbs:${stack.scope('ctl')}`)
        .filter((t) => t > cancelledAt + STOP_ALLOWANCE_MS);
      assert.deepEqual(late, [], 'no deletion accepted after the group window');
      assertNoRepeats(stack.sim, `vbs:${stack.scope('ctl')}:tcancel`);
    } finally {
      stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    }
  });

  test('a terminated run leaves no batch deleting: its items end skipped, its batches complete', async () => {
    stack.sim.setTimings({ deleteMs: { vbs: 1_000 } });
    try {
      const items = seedVbs('ctl', 90, 'tterm');
      const runId = await rc.start({ items, dryRun: false, label: 'terminated' });
      await waitFor('some deletions', async () => (await rc.getProgress(runId)).done >= 6);
      const terminatedAt = Date.now();
      await rc.handle(runId).terminate('operator terminated the run (test)');
      const batches = await batchesOf(stack, runId);
      assert.ok(batches.length > 0);
      for (const id of batches) {
        const result = (await resultWithinOf(stack, id, 120_000)) as {
          outcomes: { outcome: string; reason: string; id: string }[];
        };
        for (const o of result.outcomes.filter((x) => x.outcome === 'skipped'))
          assert.match(o.reason, /no longer runs|TERMINATED|cancelled before/, o.reason);
      }
      const starts = stack.sim.ctx.counters.starts(`vbs:${stack.scope('ctl')}`);
      const late = starts.filter((t) => t > terminatedAt + STOP_ALLOWANCE_MS + 1_000);
      assert.deepEqual(late, [], 'no deletion accepted once the batches and lanes learned the run is gone');
      const remaining = stack.sim.provider('vbs').list(stack.scope('ctl')).length;
      assert.ok(remaining > 30, `most backups were left alone (${remaining})`);
      assertNoRepeats(stack.sim, `vbs:${stack.scope('ctl')}:tterm`);
    } finally {
      stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    }
  });

  test('a cancel during policy discovery ends the run cleanly, with no batch left waiting', async () => {
    seedVbs('disc', 40, 'disc');
    // Slow listing pages, so the cancel lands while planAccount is listing.
    stack.sim.setFaults([
      { provider: 'vbs', method: 'GET', path: 'backups/detail', fault: { kind: 'latency', ms: 1_500 } },
    ]);
    try {
      const runId = await rc.start({
        policy: { accounts: [stack.account('disc')], rules: { keepLast: 1 } },
        dryRun: false,
      });
      await waitFor('discovery listing', async () =>
        (await rc.handle(runId).describe()).raw.pendingActivities?.some(
          (a) => a.activityType?.name === 'planAccount',
        ),
      );
      await rc.cancel(runId, 'changed my mind during discovery');
      const summary = await resultWithin(rc, runId, 60_000);
      assert.equal(summary.cancelled, true);
      assert.deepEqual(vbsDeleteCalls('disc'), []);
      for (const id of await batchesOf(stack, runId))
        assert.equal(
          (await stack.client.workflow.getHandle(id).describe()).status.name,
          'COMPLETED',
          `${id} is not left waiting`,
        );
    } finally {
      stack.sim.setFaults([]);
    }
  });

  test('an account named like an Object property fails with UnknownAccount instead of hanging', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const handle = await stack.client.workflow.start(retentionCleanup, {
        workflowId: `proto-${name}-${Date.now()}`,
        taskQueue: stack.taskQueue,
        args: [{ items: [{ account: name, id: 'b-1' }], dryRun: false }],
      });
      await assert.rejects(
        stack.client.withDeadline(Date.now() + 60_000, () => handle.result()),
        (e: unknown) => {
          assert.equal((e as WorkflowFailedError).cause?.name, 'ApplicationFailure', String(e));
          assert.match(
            String((e as WorkflowFailedError).cause?.message),
            new RegExp(`unknown account\\(s\\) "${name}"`),
          );
          return true;
        },
      );
    }
  });

  test('a lowered maxConcurrent in the worker config is not pushed back up by a run started before', async () => {
    const account = stack.account('auth');
    const scope = stack.scope('auth');
    stack.sim.setTimings({ deleteMs: { vbs: 500 } });
    try {
      const items = seedVbs('auth', 240, 'auth');
      const runId = await rc.start({ items, dryRun: false, label: 'config authority' });
      await waitFor(
        'deletions at the old window',
        () => stack.sim.ctx.counters.maxConcurrent(`vbs:${scope}`) >= 5,
      );
      stack.loaded.config.accounts[account]!.limits.maxConcurrent = 2;
      const lane = stack.client.workflow.getHandle(laneWorkflowId(account));
      await waitFor(
        'the lane to take the new limit',
        async () => (await lane.query(laneStatusQuery)).maxConcurrent === 2,
        60_000,
      );
      const changedAt = Date.now();
      const summary = await resultWithin(rc, runId, 240_000);
      assert.equal(summary.counts.deleted, 240);
      // Deletions accepted once those in progress at the change had finished: never more than 2 at once.
      const later = stack.sim.ctx.counters.starts(`vbs:${scope}`).filter((t) => t > changedAt + 5_000);
      assert.ok(later.length > 20, `deletions after the change (${later.length})`);
      assert.ok(
        maxOverlap(later, 500) <= 2,
        `at most 2 at once after the change (saw ${maxOverlap(later, 500)})`,
      );
      assert.equal((await lane.query(laneStatusQuery)).maxConcurrent, 2, 'the run did not push it back up');
    } finally {
      stack.loaded.config.accounts[account]!.limits.maxConcurrent = 6;
      stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    }
  });
});

/** The most intervals [start, start + lengthMs) that overlap at one instant. */
function maxOverlap(starts: number[], lengthMs: number): number {
  const events = starts.flatMap((s): [number, number][] => [
    [s, 1],
    [s + lengthMs, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (cur += d));
  return max;
}

/** The batch workflows a run started (their IDs follow from the run's: batch-00000, batch-00001...). */
async function batchesOf(stack: Stack, runId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; ; n++) {
    const id = batchWorkflowId(runId, n);
    try {
      await stack.client.workflow.getHandle(id).describe();
    } catch {
      return ids;
    }
    ids.push(id);
  }
}

async function resultWithinOf(stack: Stack, workflowId: string, timeoutMs: number): Promise<unknown> {
  return stack.client.withDeadline(Date.now() + timeoutMs, () =>
    stack.client.workflow.getHandle(workflowId).result(),
  );
}
