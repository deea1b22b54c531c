/**
 * The failure circuit breaker through the real stack: a VBS account whose deletions all fail
 * non-retryably (HTTP 400 on DELETE) trips its breaker after the first window; while it is open the
 * lane starts nothing (the provider sees no delete request), queued items wait instead of failing;
 * after the cool-down exactly one probe goes; once the fault is cleared the next probe closes it and
 * the run completes with every item exactly one outcome. Asserts on counts and states, not durations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { laneStatusQuery, type LaneStatus } from '../contract/messages';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin, waitFor } from './helpers/runs';
import { captureWorkerLogs, startStack, vbsBackups, type Stack } from './helpers/stack';

const ITEMS = 20;
// Long enough that the test reads the open state well inside it on a loaded machine; the run waits
// two cool-downs in all.
const COOL_DOWN_S = 12;

describe('failure circuit breaker (end to end)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack({
      cb: {
        provider: 'vbs',
        limits: {
          maxConcurrent: 2,
          pollInterval: '100ms',
          circuitBreaker: { failureRate: 0.5, window: 4, coolDown: `${COOL_DOWN_S}s` },
        },
      },
    });
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('an account whose deletions fail is paused, probed once per cool-down, and resumes when healthy', async () => {
    const account = stack.account('cb');
    const scope = stack.scope('cb');
    const backups = vbsBackups(ITEMS, 'cb');
    stack.sim.seed('vbs', scope, backups);
    const deleteRequests = () => stack.sim.ctx.counters.snapshot().requests['vbs DELETE'] ?? 0;
    // Every delete is refused with a 400 no retry can fix: each item ends `failed` after one request.
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'DELETE',
        path: `^/v3/${scope}/backups/`,
        fault: {
          kind: 'status',
          status: 400,
          body: { error_code: 'VBS.0005', error_msg: 'injected: request refused' },
        },
      },
    ]);
    const logs = captureWorkerLogs();
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'circuit breaker' });
    const laneHandle = () => stack.client.workflow.getHandle(laneWorkflowId(account));
    const lane = () => laneHandle().query(laneStatusQuery);
    await waitFor('the lane to start', () =>
      laneHandle()
        .describe()
        .then(
          () => true,
          () => false,
        ),
    );
    const queuedOf = (s: LaneStatus) => Object.values(s.queued).reduce((n, q) => n + q, 0);

    // 1. Tripped after the first window: open, nothing in flight, the rest waiting in the queue.
    const open1 = await waitFor('the breaker to open with nothing in flight', async () => {
      const s = await lane();
      return s.circuitBreaker?.state === 'open' && s.inFlight === 0 ? s : undefined;
    });
    const beforeProbe = deleteRequests();
    const stillOpen = await lane();
    assert.equal(stillOpen.circuitBreaker?.state, 'open', 'read the count inside the first open period');
    assert.equal(stillOpen.circuitBreaker?.openUntil, open1.circuitBreaker?.openUntil);
    const cb1 = open1.circuitBreaker!;
    assert.equal(cb1.trips, 1);
    assert.equal(cb1.threshold, 2);
    assert.match(
      cb1.reason ?? '',
      /^2 of the last [23] completed deletions failed \(threshold 50% of 4\); last: ProviderRejected/,
    );
    // maxConcurrent 2: the trip came with the 2nd failure; at most one more item was already running.
    assert.ok(beforeProbe >= 2 && beforeProbe <= 3, `delete requests before the trip: ${beforeProbe}`);
    assert.equal(
      queuedOf(open1),
      ITEMS - beforeProbe,
      'the other items wait in the lane, neither failed nor skipped',
    );
    const p1 = await rc.getProgress(runId);
    assert.equal(p1.counts.skipped, 0);
    assert.ok(p1.counts.failed <= beforeProbe);
    const warn = await waitFor('the trip warning in the worker log', () =>
      logs.lines.find(
        (l) => l.level === 'WARN' && l.message.includes(`circuit breaker tripped for account ${account}`),
      ),
    );
    assert.match(warn.message, /failureRate 0\.5 over window 4/);

    // 2. After the cool-down, exactly one probe; it fails too, so the breaker re-opens.
    const open2 = await waitFor(
      'the half-open probe to fail and re-open the breaker',
      async () => {
        const s = await lane();
        return s.circuitBreaker?.trips === 2 && s.circuitBreaker.state === 'open' && s.inFlight === 0
          ? s
          : undefined;
      },
      COOL_DOWN_S * 1000 + 90_000,
    );
    assert.equal(
      deleteRequests(),
      beforeProbe + 1,
      'one delete request in the first cool-down and its probe',
    );
    assert.match(open2.circuitBreaker?.reason ?? '', /probe after the cool-down failed/);
    assert.equal(queuedOf(open2), ITEMS - beforeProbe - 1);
    await waitFor('the re-open warning in the worker log', () =>
      logs.lines.some(
        (l) => l.level === 'WARN' && l.message.includes(`circuit breaker re-opened for account ${account}`),
      ),
    );

    // 3. The provider recovers: the next probe closes the breaker and the run completes.
    stack.sim.setFaults([]);
    const summary = await resultWithin(rc, runId, COOL_DOWN_S * 1000 + 120_000);
    const failed = beforeProbe + 1;
    assert.deepEqual(summary.counts, { deleted: ITEMS - failed, absent: 0, blocked: 0, failed, skipped: 0 });
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    for (const o of byKey.values()) if (o.outcome === 'failed') assert.match(o.reason, /ProviderRejected/);
    const accepted = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    assert.ok(
      Object.values(accepted).every((n) => n === 1),
      'no backup deleted twice',
    );
    assertNoRepeats(stack.sim);
    const end = await lane();
    assert.equal(end.circuitBreaker?.state, 'closed');
    assert.equal(end.circuitBreaker?.trips, 2);
    await waitFor('the close in the worker log', () =>
      logs.lines.some((l) => l.message.includes('circuit breaker closed')),
    );
    logs.stop();
    console.log(
      `breaker: ${beforeProbe} deletes before the trip, 1 probe per cool-down; run: ${summary.counts.deleted} deleted, ${failed} failed`,
    );
  });
});
