/**
 * Pipelined deletion groups (activities/deletion/contract.ts PipelineInput): a lane hands one deleteBackups
 * activity more items than it has slots, and the activity starts each next item the moment an earlier
 * one finishes, so a slot does not wait a workflow round trip between two deletions. What a user
 * relies on stays as before: the account's concurrency and request rate are never exceeded, every
 * backup is deleted once, and after a failure the group stops starting and hands the rest back to the
 * lane, which deletes them in later activities; and a pause reaches the items a group holds within
 * PIPELINE_WINDOW_MS; at a window's end a group hands its deletions in progress to the next group, which
 * sees them to the end without asking the provider to delete them again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import { PIPELINE_WINDOW_MS } from '../workflows/account-lane';
import { laneWorkflowId } from '../contract/ids';
import { laneStatusQuery } from '../contract/messages';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, waitFor } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const E = temporal.api.enums.v1.EventType;

interface GroupInput {
  items: { id: string }[];
  pipeline?: { slots: number; handOver?: boolean; resumed?: { accepted: unknown; acceptedAt: number }[] };
}

/** The lane's deleteBackups activities: their input and result, in order. */
async function groupsOf(stack: Stack, account: string) {
  const history = await stack.client.workflow.getHandle(laneWorkflowId(account)).fetchHistory();
  const json = (data?: Uint8Array | null) => (data ? JSON.parse(Buffer.from(data).toString()) : undefined);
  const groups = new Map<string, { input: GroupInput; result?: Record<string, unknown>[] }>();
  let singles = 0;
  for (const ev of history.events ?? []) {
    if (ev.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const a = ev.activityTaskScheduledEventAttributes!;
      if (a.activityType?.name === 'deleteBackup') singles++;
      if (a.activityType?.name === 'deleteBackups')
        groups.set(String(ev.eventId), { input: json(a.input?.payloads?.[0]?.data) as GroupInput });
    }
    if (ev.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = ev.activityTaskCompletedEventAttributes!;
      const g = groups.get(String(a.scheduledEventId));
      if (g) g.result = json(a.result?.payloads?.[0]?.data) as Record<string, unknown>[];
    }
  }
  return { groups: [...groups.values()], singles };
}

describe('pipelined deletion groups', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        pipe: { provider: 'vbs', limits: { maxConcurrent: 3, requestsPerSecond: 4, pollInterval: '100ms' } },
        trouble: { provider: 'vbs', limits: { maxConcurrent: 2, pollInterval: '100ms' } },
        pause: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
        handover: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '100ms' } },
        slow: { provider: 'vbs', limits: { maxConcurrent: 2, pollInterval: '200ms' } },
      },
      { sim: { timings: { deleteMs: { vbs: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('a group starts later items as earlier ones finish, within the concurrency and the request rate', async () => {
    const account = stack.account('pipe');
    const scope = stack.scope('pipe');
    const backups = vbsBackups(30, 'pipe');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false });
    const summary = await rc.result(runId);
    assert.deepEqual(summary.counts, { deleted: 30, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assertOneOutcomeEach(await reportOf(rc, runId), items);

    const counters = stack.sim.ctx.counters;
    for (const b of backups)
      assert.equal(counters.acceptedDeletes.get(`vbs:${scope}:${b.id}`), 1, `${b.id} accepted once`);
    assertNoRepeats(stack.sim, `vbs:${scope}:`);
    const max = counters.maxConcurrent(`vbs:${scope}`);
    assert.ok(max <= 3 && max >= 2, `at most 3 deletions at once, and the window was used (observed ${max})`);
    // requestsPerSecond 4: no 5 deletes within one second. The lane counts a start when it schedules
    // the activity, which sends it a dispatch later; 200 ms allows for that difference between two starts.
    const starts = counters.starts(`vbs:${scope}`);
    for (let i = 0; i + 4 < starts.length; i++)
      assert.ok(
        starts[i + 4]! - starts[i]! >= 800,
        `deletes ${i}..${i + 4} within ${starts[i + 4]! - starts[i]!} ms`,
      );
    const span = (starts.at(-1)! - starts[0]!) / 1000;
    assert.ok(span >= (30 - 4) / 4 - 0.5, `30 deletes at 4 per second took ${span.toFixed(1)} s`);

    const { groups, singles } = await groupsOf(stack, account);
    const pipelined = groups.filter((g) => g.input.pipeline && g.input.items.length > g.input.pipeline.slots);
    assert.ok(pipelined.length > 0, 'some group was handed more items than slots');
    assert.ok(
      pipelined.every((g) => g.input.pipeline!.slots <= 3),
      'no group holds more slots than the account has',
    );
    assert.ok(
      groups.length + singles < 10,
      `30 items in ${groups.length} groups and ${singles} single activities`,
    );
  });

  test('after a failure the group starts nothing more and the lane deletes the rest', async () => {
    const account = stack.account('trouble');
    const scope = stack.scope('trouble');
    const backups = vbsBackups(20, 'trb');
    backups[1] = { ...backups[1]!, sim: { failDelete: true } } as (typeof backups)[number];
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false });
    const summary = await rc.result(runId);
    assert.deepEqual(summary.counts, { deleted: 19, absent: 0, blocked: 0, failed: 1, skipped: 0 });
    const outcomes = assertOneOutcomeEach(await reportOf(rc, runId), items);
    assert.equal([...outcomes.values()].find((o) => o.outcome === 'failed')?.id, backups[1]!.id);
    const counters = stack.sim.ctx.counters;
    for (const b of backups)
      assert.equal(counters.acceptedDeletes.get(`vbs:${scope}:${b.id}`), 1, `${b.id} accepted once`);
    assertNoRepeats(stack.sim, `vbs:${scope}:`);

    const { groups } = await groupsOf(stack, account);
    const failedIn = groups.find((g) => g.input.items.some((i) => i.id === backups[1]!.id))!;
    assert.ok(failedIn.input.pipeline, 'the failing item was in a pipelined group');
    const handedBack = failedIn.result!.filter((r) => 'notStarted' in r).length;
    assert.ok(handedBack > 0, 'the group handed back the items it had not started');
    const after = groups.slice(groups.indexOf(failedIn) + 1);
    assert.ok(after.length > 0, 'later groups deleted them');
  });

  test('a pause reaches a running group within its window; all deleted once after resume', async () => {
    const account = stack.account('pause');
    const scope = stack.scope('pause');
    const backups = vbsBackups(120, 'pz');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false });
    const counters = stack.sim.ctx.counters;
    // Pause once the lane has moved on to pipelined groups bigger than its first.
    await waitFor('deletions under way', async () => counters.starts(`vbs:${scope}`).length >= 30, 60_000);
    await rc.pause(runId, 'test');
    const pausedAt = Date.now();
    // Resume once the pause has taken effect: the lane has nothing in flight (an event, not a sleep).
    await waitFor('the lane quiet after the pause', async () => {
      const lane = stack.client.workflow.getHandle(laneWorkflowId(account));
      return (await lane.query(laneStatusQuery)).inFlight === 0 ? true : undefined;
    });
    const resumedAt = Date.now();
    await rc.resume(runId);
    // The pause reaches the lane through the run and its batch (well under a second here); a group
    // then started starts nothing later than PIPELINE_WINDOW_MS after it was scheduled.
    const late = counters
      .starts(`vbs:${scope}`)
      .filter((t) => t > pausedAt + PIPELINE_WINDOW_MS + 1_000 && t < resumedAt);
    assert.deepEqual(late, [], 'no delete started later than the window after the pause');
    const before = counters.starts(`vbs:${scope}`).filter((t) => t < resumedAt).length;
    assert.ok(before < 100, `the pause held items back (${before} of 120 started before the resume)`);

    const summary = await rc.result(runId);
    assert.deepEqual(summary.counts, { deleted: 120, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assertOneOutcomeEach(await reportOf(rc, runId), items);
    for (const b of backups)
      assert.equal(counters.acceptedDeletes.get(`vbs:${scope}:${b.id}`), 1, `${b.id} accepted once`);
    assertNoRepeats(stack.sim, `vbs:${scope}:`);
    const { groups } = await groupsOf(stack, account);
    assert.ok(
      groups.some((g) => g.result?.some((r) => 'notStarted' in r)),
      'a group handed back the items its window closed on, and the lane kept them through the pause',
    );
  });

  test("at its window's end a group hands its deletions in progress to the next, which sees them through", async () => {
    const account = stack.account('handover');
    const scope = stack.scope('handover');
    // 60 deletions of 300 ms, 3 at a time: about 6 s, so several windows end with deletions under way.
    const backups = vbsBackups(60, 'ho');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false });
    const summary = await rc.result(runId);
    // Deleted, not absent: the next group observed the handed-over deletions instead of requesting again.
    assert.deepEqual(summary.counts, { deleted: 60, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assertOneOutcomeEach(await reportOf(rc, runId), items);
    const counters = stack.sim.ctx.counters;
    for (const b of backups) {
      assert.equal(counters.deleteCalls.get(`vbs:${scope}:${b.id}`), 1, `${b.id}: one delete call`);
    }
    assert.ok(counters.maxConcurrent(`vbs:${scope}`) <= 3, 'never more than 3 deletions at once');
    assertNoRepeats(stack.sim, `vbs:${scope}:`, 'no delete request after acceptance across the hand-overs');

    const { groups } = await groupsOf(stack, account);
    const handedIds = groups.flatMap((g) =>
      (g.result ?? []).flatMap((r, k) => ('handedOver' in r ? [g.input.items[k]!.id] : [])),
    );
    assert.ok(handedIds.length > 0, 'some group handed deletions in progress over');
    // Each was handed to the next group as a resumed item (its first entries).
    for (const id of handedIds) {
      const next = groups.find(
        (g) =>
          g.input.pipeline?.resumed &&
          g.input.items.slice(0, g.input.pipeline.resumed.length).some((i) => i.id === id),
      );
      assert.ok(next, `${id} was resumed by a later group`);
    }
  });

  test('deletions much longer than the window: a group lives until one ends, not one group per window', async () => {
    const account = stack.account('slow');
    const scope = stack.scope('slow');
    const backups = vbsBackups(4, 'slow');
    stack.sim.seed('vbs', scope, backups);
    stack.sim.setTimings({ deleteMs: { vbs: 6_000 } });
    try {
      const items = backups.map((b) => ({ account, id: b.id }));
      const runId = await rc.start({ items, dryRun: false });
      const summary = await rc.result(runId);
      assert.deepEqual(summary.counts, { deleted: 4, absent: 0, blocked: 0, failed: 0, skipped: 0 });
      assertOneOutcomeEach(await reportOf(rc, runId), items);
    } finally {
      stack.sim.setTimings({ deleteMs: { vbs: 300 } });
    }
    // Two rounds of 6 s (about six windows): a hand-over at every window's end would take a group
    // activity each time; waiting for a slot to come free takes about one per finished deletion.
    const { groups, singles } = await groupsOf(stack, account);
    assert.ok(
      groups.length + singles <= 4,
      `4 deletions of 6 s in ${groups.length} groups and ${singles} single activities`,
    );
  });
});
