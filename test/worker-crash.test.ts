/**
 * Promise 1 against the loss of workers and of lanes, through the real dev server:
 *  - the only worker process is killed with SIGKILL mid-run while deletions are in progress; another
 *    one is started; the run completes, every item has exactly one outcome, and the simulator accepted
 *    no backup's deletion twice (retried attempts resume from heartbeat details instead of deleting
 *    again);
 *  - an operator terminates an account's lane mid-run; the batch notices the silence and re-sends its
 *    open items (signal-with-start starts a new lane); the run completes with one outcome per item and
 *    no backup deleted twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { laneWorkflowId } from '../contract/ids';
import { assertNoRepeats, assertRepeatsAtMost } from './helpers/deletes';
import {
  assertOneOutcomeEach,
  repeatedAccepts,
  reportOf,
  resultWithin,
  sleep,
  waitFor,
} from './helpers/runs';
import { spawnWorkerProcess, startStack, vbsBackups, type Stack, type WorkerProcess } from './helpers/stack';

describe('worker and lane loss', () => {
  let stack: Stack;
  let rc: RetentionClient;
  const workers: WorkerProcess[] = [];
  before(async () => {
    stack = await startStack(
      {
        crash: { provider: 'vbs', limits: { maxConcurrent: 10, pollInterval: '200ms' } },
        // deletionDeadline 60 s: the batch re-sends after 15 s of silence from the lane.
        lost: {
          provider: 'vbs',
          limits: { maxConcurrent: 3, pollInterval: '200ms', deletionDeadline: '60s' },
        },
      },
      // Slow deletions, so several are in progress when the worker dies.
      { sim: { timings: { deleteMs: { vbs: 1_500 } } }, worker: false },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await stack?.stop();
  });

  /** For failure messages: how each worker process ended, and its last stderr lines. */
  const workerDiagnostics = () =>
    workers
      .map(
        (w) =>
          `--- ${w.identity} (exit ${String(w.child.exitCode ?? w.child.signalCode ?? 'running')}):\n${w.stderrTail().slice(-2000)}`,
      )
      .join('\n');

  const acceptedIn = (scope: string) =>
    Object.fromEntries(
      Object.entries(stack.sim.ctx.counters.snapshot().acceptedDeletes).filter(([k]) =>
        k.startsWith(`vbs:${scope}:`),
      ),
    );

  test('SIGKILL of the worker mid-run: the run completes on a new worker, one outcome per item, no double delete', async () => {
    const first = await spawnWorkerProcess(stack, { identity: 'worker-to-be-killed' });
    workers.push(first);
    const account = stack.account('crash');
    const scope = stack.scope('crash');
    const backups = vbsBackups(120, 'crash');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'crash' });

    await waitFor('30 accepted deletions', () => Object.keys(acceptedIn(scope)).length >= 30, 60_000, 20);
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    const acceptedAtKill = Object.keys(acceptedIn(scope)).length;
    // Deletions in progress at the provider from the kill until the worker was gone: the ones whose
    // acceptance the run may not have recorded. Each may be sent once more after the crash, no other.
    const inFlightAtKill = stack.sim.ctx.counters.inProgressDuring(killedAt, Date.now(), `vbs:${scope}`);
    await sleep(500);
    workers.push(await spawnWorkerProcess(stack, { identity: 'replacement-worker' }));

    const summary = await resultWithin(rc, runId, 240_000, workerDiagnostics);
    console.log(
      `killed after ${acceptedAtKill}/120 accepted deletions; run completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s later: ${JSON.stringify(summary.counts)}`,
    );
    assert.equal(summary.total, 120);
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    for (const o of byKey.values()) {
      // `absent` is right for an item whose delete was accepted just before the crash, before its
      // heartbeat was recorded: the retry found it gone. Never failed, never skipped.
      assert.ok(o.outcome === 'deleted' || o.outcome === 'absent', `${o.id}: ${o.outcome} ${o.reason}`);
    }
    const accepted = acceptedIn(scope);
    assert.deepEqual(repeatedAccepts(accepted), [], 'no backup had its deletion accepted twice');
    assertRepeatsAtMost(stack.sim, inFlightAtKill, `vbs:${scope}:`, 'repeats after the SIGKILL');
    console.log(
      `deletions in flight at the kill: ${inFlightAtKill}; delete requests after acceptance: ${Object.values(stack.sim.ctx.counters.deleteRequests.repeats()).reduce((a, b) => a + b, 0)}`,
    );
    assert.equal(Object.keys(accepted).length, 120, 'every backup was deleted');
    assert.deepEqual(stack.sim.provider('vbs').list(scope), []);
  });

  /** The scope of the terminated-lane test, for the repeat check after it. */
  let lostLaneScope: string | undefined;

  test('a terminated lane is restarted by the batch re-sending its open items', async () => {
    if (!workers.some((w) => w.child.exitCode === null)) workers.push(await spawnWorkerProcess(stack));
    const account = stack.account('lost');
    const scope = stack.scope('lost');
    const backups = vbsBackups(45, 'lost');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'lane lost' });

    await waitFor('10 accepted deletions', () => Object.keys(acceptedIn(scope)).length >= 10, 60_000, 20);
    const lane = stack.client.workflow.getHandle(laneWorkflowId(account));
    const { runId: firstLaneRun } = await lane.describe();
    await lane.terminate('operator terminated the lane (test)');
    const terminatedAt = Date.now();

    const summary = await resultWithin(rc, runId, 240_000, workerDiagnostics);
    const { runId: laneRunNow, status } = await lane.describe();
    console.log(
      `lane terminated; run completed ${((Date.now() - terminatedAt) / 1000).toFixed(1)} s later: ${JSON.stringify(summary.counts)}`,
    );
    assert.notEqual(laneRunNow, firstLaneRun, 'a new lane execution was started');
    assert.equal(status.name, 'RUNNING');
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    for (const o of byKey.values())
      assert.ok(o.outcome === 'deleted' || o.outcome === 'absent', `${o.id}: ${o.outcome} ${o.reason}`);
    assert.deepEqual(repeatedAccepts(acceptedIn(scope)), [], 'no backup had its deletion accepted twice');
    lostLaneScope = scope;
    assert.deepEqual(stack.sim.provider('vbs').list(scope), []);
  });

  // PRODUCT BUG (README "Guarantees", "One deletion per backup"; issue 12 item 4, "not from a batch
  // re-sending to a restarted lane"): the batch re-sends items whose deletion the terminated lane had
  // already seen through, and the new lane, without the old one's ledger, deletes them again (answered
  // 404, reported deleted/absent). Observed: 12 repeats, all 404 after acceptance. No crash happens
  // here, so the bound is 0. Kept as a todo so the assertion runs and reports until the lane's ledger
  // survives a terminate (or the batch re-sends only what has no outcome); do not weaken it.
  test(
    'a terminated lane: no delete request after acceptance when the batch re-sends',
    { todo: 'product bug: re-sent items already deleted are deleted again (404 after acceptance)' },
    () => {
      assert.ok(lostLaneScope, 'the terminated-lane test ran');
      assertNoRepeats(
        stack.sim,
        `vbs:${lostLaneScope}:`,
        'no delete request after acceptance when the lane is restarted',
      );
    },
  );
});
