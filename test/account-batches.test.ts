/**
 * Every account busy from the start whatever the request's order (issue 16; patch 'account-batches',
 * workflows/batch-planning.ts). A list grouped by account, as people write lists: 10 accounts of 500
 * backups each, one after the other. Pages of 1,000 then hold 2 accounts each; cut by position, both
 * of a page's batches covered both accounts, and at most 4 active batches kept 2 of the 10 accounts
 * idle until a whole batch had finished. Cut by account and activated by idle accounts, every account
 * gets its first deletion at once.
 *
 * Each account deletes one backup at a time and a deletion takes DELETE_MS, so until the first
 * deletion ends no account can have a second one accepted: the first ACCOUNTS acceptances at the
 * simulator are one per account exactly when every account was started before any deletion ended.
 * Also: the deletion activities carry their account as task-queue fairness key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const ACCOUNTS = Array.from({ length: 10 }, (_, i) => `g${i}`);
const PER_ACCOUNT = 500;
/** Long enough that all 10 lanes start within it on a loaded machine. */
const DELETE_MS = 20_000;

describe('a list grouped by account keeps every account busy', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    const limits = { maxConcurrent: 1, requestsPerSecond: 1000, pollInterval: '200ms' };
    stack = await startStack(
      Object.fromEntries(ACCOUNTS.map((a) => [a, { provider: 'vbs' as const, limits }])),
      { sim: { timings: { deleteMs: { vbs: DELETE_MS } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test(`${ACCOUNTS.length} accounts x ${PER_ACCOUNT} grouped by account: the first deletions are one per account`, async () => {
    const items = ACCOUNTS.flatMap((a) => {
      const backups = vbsBackups(PER_ACCOUNT, `grp-${a}`);
      stack.sim.seed('vbs', stack.scope(a), backups);
      return backups.map((b) => ({ account: stack.account(a), id: b.id }));
    });
    const runId = await rc.start({ items, dryRun: false, label: 'grouped by account' });
    const accepted = () => stack.sim.ctx.counters.deleteRequests.acceptanceOrder();
    const first = await waitFor(
      `${ACCOUNTS.length} accepted deletions`,
      async () => (accepted().length >= ACCOUNTS.length ? accepted().slice(0, ACCOUNTS.length) : undefined),
      120_000,
    );
    // Keys are `vbs:<scope>:<backup id>`; the scope names the account.
    const scopes = new Set(first.map((k) => k.split(':')[1]));
    assert.equal(
      scopes.size,
      ACCOUNTS.length,
      `every account had a deletion accepted before any account had a second one: ${[...scopes].join(', ')}`,
    );
    const progress = await rc.getProgress(runId);
    assert.equal(progress.batches.total, (ACCOUNTS.length * PER_ACCOUNT) / 500, 'as many batches as before');

    // Deletion activities carry the account as their fairness key (workflows/lane/fairness.ts).
    const lane = stack.client.workflow.getHandle(laneWorkflowId(stack.account(ACCOUNTS[0]!)));
    const history = await lane.fetchHistory();
    const keys = (history.events ?? []).flatMap((e) => {
      const s = e.activityTaskScheduledEventAttributes;
      return s && s.activityType?.name?.startsWith('deleteBackup') ? [s.priority?.fairnessKey ?? ''] : [];
    });
    assert.ok(keys.length > 0, 'the lane scheduled deletions');
    assert.deepEqual([...new Set(keys)], [stack.account(ACCOUNTS[0]!)]);

    await rc.cancel(runId, 'test done with it');
    const summary = await rc.result(runId);
    assert.equal(summary.cancelled, true);
    assert.equal(summary.total, ACCOUNTS.length * PER_ACCOUNT);
  });
});
