/**
 * Promise 7: whatever the run's size, every execution's history stays far below Temporal's
 * 10,240-event warning and every payload below 256 KB. A 20,000-item run over four accounts (paged in
 * through addItems, 40 batches, lanes that continue-as-new) completes; then every execution on the
 * test's task queue (the run and any continue-as-new successors, every batch, every lane execution)
 * is fetched and measured: events, largest event, largest single payload. Also printed: wall time and
 * history events per item (the cost of the orchestration).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { assertNoRepeats } from './helpers/deletes';
import { measureExecutions, type ExecutionStats } from './helpers/runs';
import { startStack, vbsBackups, type Stack } from './helpers/stack';

const ITEMS = 20_000;
const ACCOUNTS = ['h0', 'h1', 'h2', 'h3'];
const WARNING_EVENTS = 10_240;
const PAYLOAD_LIMIT = 256 * 1024;

describe('history stays bounded', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    const limits = { maxConcurrent: 100, requestsPerSecond: 10_000, pollInterval: '10ms' };
    stack = await startStack(
      Object.fromEntries(ACCOUNTS.map((a) => [a, { provider: 'vbs' as const, limits }])),
      {
        sim: { timings: { deleteMs: { vbs: 0 } } },
      },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test(`${ITEMS} items: every execution's history < ${WARNING_EVENTS} events, every payload < 256 KB`, async () => {
    const per = ITEMS / ACCOUNTS.length;
    const backups = ACCOUNTS.map((a) => {
      const list = vbsBackups(per, `h-${a}`);
      stack.sim.seed('vbs', stack.scope(a), list);
      return list;
    });
    // Interleaved, so every batch feeds every lane.
    const items = Array.from({ length: ITEMS }, (_, i) => ({
      account: stack.account(ACCOUNTS[i % ACCOUNTS.length]!),
      id: backups[i % ACCOUNTS.length]![Math.floor(i / ACCOUNTS.length)]!.id,
    }));

    const started = Date.now();
    const runId = await rc.start({ items, dryRun: false, label: 'history bound' });
    const summary = await rc.result(runId);
    const wallSeconds = (Date.now() - started) / 1000;
    assert.equal(summary.total, ITEMS);
    assert.deepEqual(summary.counts, { deleted: ITEMS, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assert.equal(summary.batchWorkflowIds.length, ITEMS / 500);

    const stats = await measureExecutions(stack.client, `TaskQueue = '${stack.taskQueue}'`);
    const byType = new Map<string, ExecutionStats[]>();
    for (const s of stats) byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
    assert.equal(byType.get('cleanupBatch')?.length, ITEMS / 500, 'every batch was measured');
    assert.ok((byType.get('accountLane')?.length ?? 0) >= ACCOUNTS.length, 'every lane was measured');

    const longest = stats.reduce((a, b) => (b.events > a.events ? b : a));
    const largestPayload = stats.reduce((a, b) => (b.largestPayloadBytes > a.largestPayloadBytes ? b : a));
    const largestEvent = stats.reduce((a, b) => (b.largestEventBytes > a.largestEventBytes ? b : a));
    const totalEvents = stats.reduce((n, s) => n + s.events, 0);
    console.log(
      `${ITEMS} items in ${wallSeconds.toFixed(1)} s (${(ITEMS / wallSeconds).toFixed(0)} items/s)`,
    );
    for (const [type, list] of byType) {
      const max = list.reduce((a, b) => (b.events > a.events ? b : a));
      const events = list.reduce((n, s) => n + s.events, 0);
      console.log(
        `  ${type}: ${list.length} executions, longest ${max.events} events, ${events} events in all, largest payload ${(Math.max(...list.map((s) => s.largestPayloadBytes)) / 1024).toFixed(1)} KB`,
      );
    }
    console.log(
      `longest history of any execution: ${longest.events} events (${longest.type} ${longest.workflowId})`,
    );
    console.log(
      `largest payload: ${(largestPayload.largestPayloadBytes / 1024).toFixed(1)} KB (${largestPayload.type}); largest event ${(largestEvent.largestEventBytes / 1024).toFixed(1)} KB`,
    );
    console.log(`history events per item, all executions: ${(totalEvents / ITEMS).toFixed(2)}`);
    // What Temporal Cloud would bill, as far as histories show it (heartbeats are not in histories:
    // the deletion activity sends about one per item, more only for deletions slower than ~24 s).
    const count = (t: string) => stats.reduce((n, s) => n + (s.eventTypes.get(`EVENT_TYPE_${t}`) ?? 0), 0);
    const perItem = (t: string) => (count(t) / ITEMS).toFixed(3);
    console.log(
      `per item: activities ${perItem('ACTIVITY_TASK_SCHEDULED')}, signals sent ${perItem('SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED')}, ` +
        `signals received ${perItem('WORKFLOW_EXECUTION_SIGNALED')}, timers ${perItem('TIMER_STARTED')}, workflow tasks ${perItem('WORKFLOW_TASK_COMPLETED')}`,
    );

    assert.ok(
      longest.events < WARNING_EVENTS,
      `${longest.type} ${longest.workflowId} has ${longest.events} events`,
    );
    assert.ok(
      largestPayload.largestPayloadBytes < PAYLOAD_LIMIT,
      `a payload of ${largestPayload.largestPayloadBytes} bytes in ${largestPayload.workflowId}`,
    );
    assert.ok(
      largestEvent.largestEventBytes < PAYLOAD_LIMIT,
      `an event of ${largestEvent.largestEventBytes} bytes in ${largestEvent.workflowId}`,
    );
    assert.ok((byType.get('accountLane')?.length ?? 0) > ACCOUNTS.length, 'the lanes continued-as-new');
    // ...and no item was deleted twice across the lanes' continue-as-new hand-overs.
    const accepted = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    assert.equal(Object.keys(accepted).length, ITEMS);
    assert.ok(
      Object.values(accepted).every((n) => n === 1),
      'every backup was accepted for deletion exactly once',
    );
    assertNoRepeats(stack.sim, '', 'no delete request after acceptance across the hand-overs');
  });
});
