/**
 * A terminated Veeam lane (README "Guarantees", "One deletion per backup"): an operator terminates the
 * account's lane while deletion sessions run; the batch re-sends its open items to a new lane. Veeam's
 * deleteBackups is not idempotent (every POST starts a new session), so the simulator must see no second
 * POST for any VM, and the account's concurrency must hold while the old lane's activities drain beside
 * the new lane's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { describeRepeats, repeatsOf } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin, waitFor } from './helpers/runs';
import { startStack, type Stack } from './helpers/stack';

const LIMIT = 2;

describe('a terminated Veeam lane', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        // deletionDeadline 60 s: the batch re-sends after 15 s of silence from the lane.
        vbr: {
          provider: 'veeam',
          limits: { maxConcurrent: LIMIT, pollInterval: '200ms', deletionDeadline: '60s' },
        },
      },
      // Sessions longer than the 15 s of silence before the re-send: the old lane's sessions still run then.
      { sim: { timings: { deleteMs: { veeam: 18_000 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  let secondPosts: string[] = [];
  let repeats: Record<string, number> = {};
  let maxConcurrent = 0;

  test('the run completes with one outcome per VM after the lane is terminated', async () => {
    const scope = stack.scope('vbr');
    const account = stack.account('vbr');
    const vms = Array.from({ length: 4 }, (_, i) => ({
      id: `term-vm-${i}`,
      restorePoints: [{ id: `term-vm-${i}-rp`, pointInTime: '2025-01-01T00:00:00Z' }],
    }));
    stack.sim.seed('veeam', scope, vms);
    const items = vms.map((v) => ({ account, id: v.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'veeam lane terminated' });
    // Terminate while sessions run (the first ones accepted, none finished yet).
    await waitFor(
      'two sessions running',
      () => stack.sim.ctx.counters.sessionsPerVm.size >= LIMIT,
      60_000,
      20,
    );
    await stack.client.workflow
      .getHandle(laneWorkflowId(account))
      .terminate('operator terminated the lane (test)');
    const summary = await resultWithin(rc, runId, 240_000);
    assertOneOutcomeEach(await reportOf(rc, runId), items);
    console.log(
      `veeam lane terminated: ${JSON.stringify(summary.counts)}; repeats: ${describeRepeats(stack.sim, `veeam:${scope}:`)}`,
    );
    secondPosts = [...stack.sim.ctx.counters.sessionsPerVm]
      .filter(([k, n]) => k.startsWith(`veeam:${scope}:`) && n > 1)
      .map(([k, n]) => `${k} x${n}`);
    repeats = repeatsOf(stack.sim, `veeam:${scope}:`);
    maxConcurrent = stack.sim.ctx.counters.maxConcurrent(`veeam:${scope}`);
  });

  // PRODUCT BUG (README "Guarantees", "One deletion per backup"; issue 12 item 4, "not from a batch
  // re-sending to a restarted lane"): the batch re-sends the VMs whose sessions the terminated lane had
  // started, and the new lane POSTs deleteBackups again: a second job session for each (observed: the 2
  // VMs in flight at the terminate, each `accepted 2x`). Kept as a todo so the assertion runs and reports
  // until the re-sent items join the recorded sessions; do not weaken it.
  test(
    'no second deleteBackups POST for any VM, and no other delete request after acceptance',
    { todo: 'product bug: a re-send after a lane terminate starts a second Veeam session' },
    () => {
      assert.deepEqual(secondPosts, [], 'a VM got a second deletion session');
      assert.deepEqual(repeats, {}, 'delete requests after acceptance');
    },
  );

  // PRODUCT BUG (README "Guarantees", account concurrency; issue 17 item 2, "concurrency held while the
  // old lane's activities drain"): the new lane does not count the sessions the terminated lane's
  // activities still run, so the account had 4 sessions at once with limit 2 (sessions of 18 s, longer
  // than the 15 s before the re-send). Todo until the new lane learns what is still in flight.
  test(
    "the concurrency limit holds while the old lane's activities drain",
    {
      todo: "product bug: the new lane ignores the terminated lane's sessions still running (4 at once, limit 2)",
    },
    () => {
      assert.ok(maxConcurrent <= LIMIT, `${maxConcurrent} sessions at once, limit ${LIMIT}`);
    },
  );
});
