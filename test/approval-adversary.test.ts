/**
 * Adversary tests of plan, approve, apply (issue 14; README, "Approving deletions" and "Guarantees":
 * only the approved plan is deleted). Black-box against the real dev server, worker and the VBS
 * simulator over HTTP: each test tries to make the run delete something nobody approved, or delete
 * before approval.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowUpdateStage } from '@temporalio/client';
import { RetentionClient } from '../client/retention-client';
import { ApprovalRefusedError } from '../client/approval';
import { addItemsUpdate } from '../contract/messages';
import type { RunPlan } from '../contract/approval';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/runs';

describe('approval adversary', () => {
  let stack: Stack;
  let rc: RetentionClient;
  const deletes = () => stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;

  before(async () => {
    stack = await startStack({ vbs: { provider: 'vbs' }, gated: { provider: 'vbs', requireApproval: true } });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => {
    await stack.stop();
  });

  async function awaitingPlan(id: string): Promise<RunPlan> {
    await waitFor(
      `${id} awaiting approval`,
      async () => (await rc.getProgress(id)).state === 'awaiting-approval',
    );
    return rc.getPlan(id);
  }

  test('a cancel (the Web UI cancel) while awaiting approval, an approve right after it: nothing deleted', async () => {
    const before = deletes();
    const id = await rc.start({
      items: [
        { account: stack.account('gated'), id: 'cxl-1' },
        { account: stack.account('gated'), id: 'cxl-2' },
      ],
      dryRun: false,
    });
    const plan = await awaitingPlan(id);
    // The cancel and an approve sent right after it: the approve may even be taken first (both in one
    // workflow task), but the cancelled run must not delete.
    await rc.handle(id).cancel(); // RequestCancelWorkflowExecution
    await rc.approve(id, { planHash: plan.planHash, approver: 'alice' }).catch(() => undefined);
    await rc.result(id).catch(() => undefined);
    await assert.rejects(
      rc.approve(id, { planHash: plan.planHash, approver: 'alice' }),
      (err: unknown) => err instanceof Error,
    );
    assert.equal(deletes(), before);
  });

  test('approve and reject racing: exactly one decision is taken and the outcome matches it', async () => {
    stack.sim.seed('vbs', stack.scope('gated'), [
      { id: 'rc-1', name: 'n', status: 'available', volume_id: 'rc-vol', created_at: '2020-01-01T00:00:00' },
    ]);
    const before = deletes();
    const id = await rc.start({ items: [{ account: stack.account('gated'), id: 'rc-1' }], dryRun: false });
    const plan = await awaitingPlan(id);
    const [a, r] = await Promise.allSettled([
      rc.approve(id, { planHash: plan.planHash, approver: 'alice' }),
      rc.reject(id, { approver: 'bob', reason: 'race' }),
    ]);
    assert.equal([a, r].filter((x) => x.status === 'fulfilled').length, 1, 'exactly one decision');
    const loser = (a.status === 'rejected' ? a : r) as PromiseRejectedResult;
    assert.ok(loser.reason instanceof ApprovalRefusedError, String(loser.reason));
    const summary = await rc.result(id);
    if (a.status === 'fulfilled') assert.equal(summary.counts.deleted, 1);
    else {
      assert.equal(summary.counts.deleted, 0);
      assert.equal(deletes(), before);
    }
  });

  test('a hand-made approve: another case or padding of the hash or the approver is refused', async () => {
    const before = deletes();
    const id = await rc.start({
      items: [{ account: stack.account('vbs'), id: 'hm-1' }],
      dryRun: false,
      approval: { required: true, approvers: ['alice'] },
    });
    const plan = await awaitingPlan(id);
    for (const input of [
      { planHash: plan.planHash.toUpperCase(), approver: 'alice' },
      { planHash: ` ${plan.planHash}`, approver: 'alice' },
      { planHash: plan.planHash, approver: 'Alice' },
      { planHash: plan.planHash, approver: 'alice ' },
      { planHash: plan.planHash } as { planHash: string; approver: string },
    ])
      await assert.rejects(rc.approve(id, input), (err: unknown) => err instanceof ApprovalRefusedError);
    assert.equal((await rc.getProgress(id)).state, 'awaiting-approval');
    assert.equal(deletes(), before);
    await rc.reject(id, { approver: 'alice', reason: 'done' });
    await rc.result(id);
  });
  test('items still being added when the run is sealed are in the plan and wait for approval too', async () => {
    // A producer adds a large page (a new account, several batches) and, from another process, seals
    // the run before that page's update has finished. Before the fix the run judged its guards and
    // opened the approval on the part it had, and the rest of the page started deleting at once,
    // outside the approved hash.
    const before = deletes();
    const id = await rc.start({
      items: [{ account: stack.account('gated'), id: 'race-gated-1' }],
      itemsToFollow: true,
      dryRun: false,
      approval: { required: true },
    });
    const late = Array.from({ length: 1200 }, (_, i) => ({ account: stack.account('vbs'), id: `race-${i}` }));
    const pages = [late.slice(0, 1000), late.slice(1000)];
    const h = rc.handle(id);
    const adding = [];
    for (const items of pages)
      adding.push(
        await h.startUpdate(addItemsUpdate, {
          args: [{ items }],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
      );
    const sealed = await rc.seal(id);
    await Promise.all(adding.map((u) => u.result()));
    assert.equal(sealed.total, 1201, 'seal reports every item the run took');
    const plan = await awaitingPlan(id);
    assert.equal(plan.toDelete, 1201, 'the plan holds every item the run took');
    assert.equal(deletes(), before, 'nothing reached the provider before approval');
    await rc.reject(id, { approver: 'bob', reason: 'adversary' });
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted + summary.counts.absent, 0);
    assert.equal(deletes(), before, 'a rejected plan deletes nothing');
  });

  test('a policy run takes no items on other accounts: addItems while it lists is refused, naming the policy', async () => {
    // The listing is held 1.5 s so the addItems surely arrives while the run is still discovering.
    // Before the fix it was accepted, and the item (on an account outside the policy) joined the
    // plan without the plan check noticing: an executed policy run deleted it.
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'GET',
        path: 'backups/detail',
        times: 1,
        fault: { kind: 'latency', ms: 1_500 },
      },
    ]);
    const before = deletes();
    const id = await rc.start({
      policy: { accounts: [stack.account('vbs')], rules: { keepLast: 2 }, groups: ['inj-vol'] },
      dryRun: false,
    });
    try {
      await assert.rejects(
        rc.addItems(id, [{ account: stack.account('gated'), id: 'inj-1' }]),
        (err: unknown) =>
          err instanceof Error &&
          /plans from its policy: it takes no items on other accounts/.test(
            `${err.message} ${(err.cause as Error | undefined)?.message}`,
          ),
      );
    } finally {
      stack.sim.setFaults([]);
    }
    const summary = await rc.result(id);
    assert.equal(summary.counts.deleted + summary.counts.absent, 0);
    assert.equal(deletes(), before);
  });
});
