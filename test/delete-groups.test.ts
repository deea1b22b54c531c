/**
 * Items a lane starts at the same moment are deleted by ONE deleteBackups activity (one heartbeat for
 * all of them); every item the group cannot finish on the happy path continues as its own deleteBackup
 * activity with what the group learnt. Here five items start together on a VBS account:
 *   grp-0: plain                              -> deleted by the group
 *   grp-1: its DELETE is throttled (429, Retry-After 1 s) -> continues alone: first attempt fails
 *          with the group's error (Temporal's retry honours Retry-After), second attempt deletes
 *   grp-2: a poll answers 503                 -> continues alone from the accepted handle
 *   grp-3: the provider fails the deletion    -> `failed` by the group, with the provider's code
 *   grp-4: still "deleting" long after the others -> handed on, observed alone, never deleted twice
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const E = temporal.api.enums.v1.EventType;

describe('deletion groups', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      { grp: { provider: 'vbs', limits: { maxConcurrent: 5, pollInterval: '100ms' } } },
      { sim: { timings: { deleteMs: { vbs: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('five items started together: one group; errors and stragglers continue alone, each deleted once', async () => {
    const account = stack.account('grp');
    const scope = stack.scope('grp');
    const backups = vbsBackups(5, 'grp');
    backups[3] = { ...backups[3]!, sim: { failDelete: true } } as (typeof backups)[number];
    stack.sim.seed('vbs', scope, backups);
    const id = (i: number) => backups[i]!.id;
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'DELETE',
        path: `/backups/${id(1)}$`,
        times: 1,
        fault: { kind: 'status', status: 429, retryAfter: '1' },
      },
      {
        provider: 'vbs',
        method: 'GET',
        path: `/backups/${id(2)}$`,
        times: 1,
        fault: { kind: 'status', status: 503 },
      },
      // Plenty of "deleting" answers: the group hands grp-4 on two poll intervals after its first outcome.
      {
        provider: 'vbs',
        method: 'GET',
        path: `/backups/${id(4)}$`,
        times: 25,
        fault: { kind: 'status', status: 200, body: { backup: { id: id(4), status: 'deleting' } } },
      },
    ]);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false });
    const summary = await rc.result(runId);
    stack.sim.setFaults([]);
    assert.deepEqual(summary.counts, { deleted: 4, absent: 0, blocked: 0, failed: 1, skipped: 0 });
    const outcomes = assertOneOutcomeEach(await reportOf(rc, runId), items);
    const failed = [...outcomes.values()].find((o) => o.outcome === 'failed')!;
    assert.equal(failed.id, id(3));
    assert.equal(failed.code, 'error_deleting');

    // The simulator accepted exactly one deletion of each backup; only the throttled one was asked twice.
    const counters = stack.sim.ctx.counters;
    for (let i = 0; i < 5; i++) {
      assert.equal(counters.acceptedDeletes.get(`vbs:${scope}:${id(i)}`), 1, `${id(i)} accepted once`);
      assert.equal(
        counters.deleteCalls.get(`vbs:${scope}:${id(i)}`),
        1,
        `${id(i)}: one delete reached the provider`,
      );
    }
    assert.equal(counters.requests.get('vbs DELETE'), 6, 'five deletes and the throttled one again');
    assertNoRepeats(stack.sim, `vbs:${scope}:`);

    // The lane's history: one group for all five, then one activity for each item handed on.
    const history = await stack.client.workflow.getHandle(laneWorkflowId(account)).fetchHistory();
    const scheduled = new Map<string, { type: string; input: unknown }>();
    const attempts = new Map<string, number>();
    for (const ev of history.events ?? []) {
      if (ev.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
        const a = ev.activityTaskScheduledEventAttributes!;
        const data = a.input?.payloads?.[0]?.data;
        scheduled.set(String(ev.eventId), {
          type: a.activityType?.name ?? '',
          input: data ? JSON.parse(Buffer.from(data).toString()) : undefined,
        });
      }
      if (ev.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        const a = ev.activityTaskStartedEventAttributes!;
        attempts.set(String(a.scheduledEventId), a.attempt ?? 1);
      }
    }
    const groups = [...scheduled.values()].filter((s) => s.type === 'deleteBackups');
    assert.equal(groups.length, 1, 'one group activity');
    assert.deepEqual(
      (groups[0]!.input as { items: { id: string }[] }).items.map((i) => i.id).sort(),
      backups.map((b) => b.id),
    );
    const singles = [...scheduled].filter(([, s]) => s.type === 'deleteBackup');
    const byItem = new Map(
      singles.map(([eventId, s]) => [
        (s.input as { item: { id: string } }).item.id,
        { eventId, input: s.input as Record<string, unknown> },
      ]),
    );
    assert.deepEqual([...byItem.keys()].sort(), [id(1), id(2), id(4)], 'the items handed on');
    assert.ok(byItem.get(id(1))!.input.groupError, 'the throttled request is handed on with its error');
    assert.equal(
      attempts.get(byItem.get(id(1))!.eventId),
      2,
      'which fails the first attempt; the retry deletes',
    );
    assert.ok(byItem.get(id(2))!.input.accepted, 'the poll error is handed on with the accepted deletion');
    assert.ok(byItem.get(id(4))!.input.accepted, 'so is the straggler');
  });
});
