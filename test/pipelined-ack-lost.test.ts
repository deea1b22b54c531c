/**
 * README "Guarantees", The report never contradicts the provider (issue 13 item 1, the pipelined
 * window): a pipelined deletion group starts its LATER items (beyond its slots) while it runs, each as
 * an earlier one finishes. A worker process dies the moment the provider accepts such a later item's
 * delete, before the answer reaches the activity. The retried group must know that request may be
 * ours: every item's "requesting" announcement is on the Temporal server before its request goes out,
 * so the retry reads the backup gone as `deleted` (acknowledgement lost), never `absent`, and sends no
 * second delete.
 *
 * No latency in front of the provider: the delete is accepted as soon as it arrives, so nothing but
 * the announcement made ahead of the request can have recorded it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin } from './helpers/runs';
import { spawnWorkerProcess, startStack, vbsBackups, type WorkerProcess } from './helpers/stack';

const E = temporal.api.enums.v1.EventType;

/** The lane's deleteBackups inputs, in order (which items each group got, and its slots). */
async function groupInputs(client: import('@temporalio/client').Client, account: string) {
  const history = await client.workflow.getHandle(laneWorkflowId(account)).fetchHistory();
  const inputs: { items: { id: string }[]; pipeline?: { slots: number } }[] = [];
  for (const ev of history.events ?? []) {
    const a = ev.activityTaskScheduledEventAttributes;
    if (ev.eventType !== E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED || a?.activityType?.name !== 'deleteBackups')
      continue;
    const data = a.input?.payloads?.[0]?.data;
    if (data) inputs.push(JSON.parse(Buffer.from(data).toString()));
  }
  return inputs;
}

test('worker SIGKILL when the provider accepts a later item of a pipelined group: that item is deleted, never absent, requested once', async () => {
  const stack = await startStack(
    { pipe: { provider: 'vbs', limits: { maxConcurrent: 2, pollInterval: '100ms' } } },
    { worker: false, sim: { timings: { deleteMs: { vbs: 300 } } } },
  );
  const workers: WorkerProcess[] = [];
  try {
    const account = stack.account('pipe');
    const scope = stack.scope('pipe');
    const backups = vbsBackups(12, 'pipe');
    stack.sim.seed('vbs', scope, backups);
    const first = await spawnWorkerProcess(stack, { identity: 'pipelined-ack-lost-1' });
    workers.push(first);

    // The first two accepted deletes are the group's admitted items (its two slots); the fourth is a
    // later item, started by the group itself once an earlier one finished.
    const KILL_AT = 4;
    const counters = stack.sim.ctx.counters;
    const bump = counters.bump.bind(counters);
    const accepted: string[] = [];
    counters.bump = (map, key, by) => {
      bump(map, key, by);
      if (map !== counters.acceptedDeletes || first.child.killed) return;
      accepted.push(key);
      if (accepted.length === KILL_AT) first.child.kill('SIGKILL');
    };

    const items = backups.map((b) => ({ account, id: b.id }));
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const runId = await rc.start({ items, dryRun: false, label: 'pipelined ack lost' });
    assert.equal(await first.exited, 'SIGKILL');
    counters.bump = bump;
    const killedKey = accepted[KILL_AT - 1]!;
    const killedId = killedKey.slice(`vbs:${scope}:`.length);
    workers.push(await spawnWorkerProcess(stack, { identity: 'pipelined-ack-lost-2' }));

    const summary = await resultWithin(rc, runId, 180_000);
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);

    // The killed item was a later item of a pipelined group (not one its slots started with).
    const groups = await groupInputs(stack.client, account);
    const holder = groups.find((g) => g.items.some((it) => it.id === killedId));
    assert.ok(holder?.pipeline, `${killedId} was requested by a pipelined group: ${JSON.stringify(groups)}`);
    const index = holder.items.findIndex((it) => it.id === killedId);
    assert.ok(
      index >= holder.pipeline.slots,
      `${killedId} is item ${index} of ${holder.pipeline.slots} slots`,
    );

    const killed = [...byKey.values()].find((o) => o.id === killedId)!;
    console.log(`killed at ${killedId} (item ${index}); ${JSON.stringify(summary.counts)}; ${killed.reason}`);
    assert.equal(killed.outcome, 'deleted', `${killedId}: ${killed.outcome} (${killed.reason})`);
    assert.match(killed.reason, /acknowledgement was lost|confirmed the deletion/);
    assert.deepEqual(summary.counts, { deleted: 12, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    // README "Guarantees": One deletion per backup: the retry looked before asking again.
    assertNoRepeats(stack.sim, 'vbs:', 'one delete request per backup, though an answer was lost');
    assert.deepEqual(stack.sim.provider('vbs').list(scope), []);
  } finally {
    for (const w of workers) await w.stop();
    await stack.stop();
  }
});
