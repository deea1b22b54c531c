/**
 * A terminated VBS lane while deletions run (README "Guarantees", "One deletion per backup" and the
 * concurrency limit): an operator terminates the account's lane while the provider deletes; the batch
 * re-sends its open items to a new lane, which has no ledger and no record of what runs. VBS deletes
 * carry no handle, so the new lane reads each re-sent backup before requesting it
 * (activities/resent-items.ts): a backup being deleted is observed, never requested again, and holds a
 * slot meanwhile. Deletions last longer than the silence before the re-send, so they still run then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { RESENT_OBSERVED } from '../activities/resent-items';
import { laneWorkflowId } from '../contract/ids';
import { assertNoRepeats, describeRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const LIMIT = 2;

describe('a terminated VBS lane while deletions run', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        // deletionDeadline 60 s: the batch re-sends after 15 s of silence from the lane.
        slow: {
          provider: 'vbs',
          limits: { maxConcurrent: LIMIT, pollInterval: '200ms', deletionDeadline: '60s' },
        },
      },
      { sim: { timings: { deleteMs: { vbs: 18_000 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('the re-sent deletions in progress are observed, not requested again, and hold their slots', async () => {
    const account = stack.account('slow');
    const scope = stack.scope('slow');
    const backups = vbsBackups(4, 'slow');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'vbs lane terminated' });
    const accepted = () =>
      Object.keys(stack.sim.ctx.counters.snapshot().acceptedDeletes).filter((k) =>
        k.startsWith(`vbs:${scope}:`),
      );
    await waitFor('two deletions accepted', () => accepted().length >= LIMIT, 60_000, 20);
    const running = new Set(accepted().map((k) => k.split(':').at(-1)));
    await stack.client.workflow
      .getHandle(laneWorkflowId(account))
      .terminate('operator terminated the lane (test)');

    const summary = await resultWithin(rc, runId, 240_000);
    console.log(
      `vbs lane terminated: ${JSON.stringify(summary.counts)}; repeats: ${describeRepeats(stack.sim, `vbs:${scope}:`)}`,
    );
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    assertNoRepeats(stack.sim, `vbs:${scope}:`, 'no delete request after acceptance');
    const max = stack.sim.ctx.counters.maxConcurrent(`vbs:${scope}`);
    assert.ok(max <= LIMIT, `${max} deletions at once, limit ${LIMIT}`);
    for (const o of byKey.values()) {
      assert.equal(o.outcome, 'deleted', `${o.id}: ${o.outcome} ${o.reason}`);
      // The ones the terminated lane had started: observed to their end by the new lane.
      if (running.has(o.id)) assert.equal(o.reason, RESENT_OBSERVED, o.id);
    }
    assert.deepEqual(stack.sim.provider('vbs').list(scope), []);
  });
});
