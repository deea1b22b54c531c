/**
 * README "Guarantees": Exactly one outcome, One deletion per backup, Guards hold on every run — for a
 * backup repeated INSIDE one request (the start items or one page), sent straight to the workflow as
 * the Web UI or another client would, not merged by our client. The run merges it before it counts the
 * guards and splits batches; a batch given the same item twice keeps one. Through the real dev server,
 * the worker and the VBS simulator.
 *
 * Written for the planted bugs run-dedup-removed and batch-dedup-removed (test/mutants/list.ts): the
 * existing tests repeat backups across pages only, which the lane's ledger merges, so neither the run's
 * nor the batch's own merge was ever exercised.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { accountLimits } from '../worker/config';
import { cleanupBatch } from '../workflows/cleanup-batch';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

/**
 * A bound, not a timing: a few deletions take seconds even on a loaded machine, while a batch that waits
 * for a second outcome of one backup never ends (the planted bug batch-dedup-removed).
 */
const DONE_WITHIN_MS = 120_000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} not done after ${DONE_WITHIN_MS} ms`)),
      DONE_WITHIN_MS,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('a backup repeated inside one request', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({ rep: { provider: 'vbs', limits: { maxConcurrent: 3 } } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  const seed = (prefix: string, n: number) => {
    const backups = vbsBackups(n, prefix);
    stack.sim.seed('vbs', stack.scope('rep'), backups);
    return backups.map((b) => ({ account: stack.account('rep'), id: b.id }));
  };
  const deleteCalls = (prefix: string) =>
    Object.entries(stack.sim.ctx.counters.snapshot().deleteCalls).filter(([k]) =>
      k.startsWith(`vbs:${stack.scope('rep')}:${prefix}`),
    );

  test('in the start items: counted once by the guards, deleted once, one outcome each', async () => {
    const items = seed('rep-start', 5);
    // 7 entries, 5 backups: maxDeletions 5 holds exactly when the repeats are merged before counting.
    const repeated = [...items, items[0]!, items[3]!];
    const handle = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `rep-start-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ items: repeated, dryRun: false, guards: { maxDeletions: 5 } }],
    });
    const summary = await within(handle.result(), 'the run');
    assert.equal(summary.total, 5, JSON.stringify(summary));
    assert.equal(summary.counts.deleted, 5, JSON.stringify(summary.counts));
    assert.deepEqual(summary.guardViolations ?? [], []);
    assertOneOutcomeEach(await reportOf(rc, handle.workflowId), items);
    const calls = deleteCalls('rep-start');
    assert.equal(calls.length, 5);
    assert.deepEqual(
      calls.filter(([, n]) => n !== 1),
      [],
      'one delete request per backup',
    );
    assertNoRepeats(stack.sim, `vbs:${stack.scope('rep')}:rep-start`);
  });

  test('in one batch: the batch keeps one of each and ends with one outcome per backup', async () => {
    const items = seed('rep-batch', 3);
    const account = stack.account('rep');
    // The batch's run must be running (deletions of a run that does not run are refused).
    const run = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `rep-batch-run-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ itemsToFollow: true, dryRun: false }],
    });
    try {
      const batch = await stack.client.workflow.start(cleanupBatch, {
        workflowId: `${run.workflowId}/batch-00099`,
        taskQueue: stack.taskQueue,
        args: [
          {
            runWorkflowId: run.workflowId,
            items: [items[0]!, items[1]!, items[0]!, items[2]!, items[1]!],
            accounts: { [account]: accountLimits(account, stack.loaded.config.accounts[account]!) },
            dryRun: false,
            control: 'active',
          },
        ],
      });
      const result = await within(batch.result(), 'the batch');
      assert.equal(result.outcomes.length, 3, JSON.stringify(result.outcomes));
      assert.deepEqual(
        result.outcomes.map((o) => [o.id, o.outcome]),
        items.map((i) => [i.id, 'deleted']),
      );
      assert.equal(result.counts.deleted, 3, JSON.stringify(result.counts));
      assert.deepEqual(
        deleteCalls('rep-batch').filter(([, n]) => n !== 1),
        [],
        'one delete request per backup',
      );
      assertNoRepeats(stack.sim, `vbs:${stack.scope('rep')}:rep-batch`);
    } finally {
      await run.terminate('test done');
    }
  });
});
