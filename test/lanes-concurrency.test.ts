/**
 * Promise 2 under load: two concurrent runs and two worker processes (one in this process, one a
 * child process started like an operator would) share one Huawei CSBS account whose limit is 5 (CSBS itself runs 5 per user). The simulator
 * measures, from the intervals in which it had a deletion in progress, the most deletions the account
 * ever had at once; it must never exceed 5. The account's lane also shares its window fairly: a small
 * run started after a big one gets its items deleted at once and finishes first, with about half of
 * the deletions while both are active (the lane serves runs round-robin, not batches: the big run
 * has two active batches, so a per-batch round-robin would give the small run only a third).
 * Finally, a chunk delivered twice (a retried enqueue activity), or re-sent while its outcomes are on
 * their way, is not deleted twice; and a lane that continues-as-new every few items (with a carry
 * budget so small that it gives queued items back to the batch each time) still ends every item with
 * exactly one outcome and deletes none twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { accountLimits } from '../worker/config';
import { accountLane } from '../workflows/account-lane';
import { laneWorkflowId } from '../contract/ids';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { enqueueSignal, laneStatusQuery, type EnqueueRequest } from '../contract/messages';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, measureExecutions, reportOf, waitFor } from './helpers/runs';
import {
  csbsItems,
  csbsRef,
  spawnWorkerProcess,
  startStack,
  vbsBackups,
  type Stack,
  type WorkerProcess,
} from './helpers/stack';

const LIMIT = 5;

describe('account lanes: one concurrency window across runs and worker processes', () => {
  let stack: Stack;
  let rc: RetentionClient;
  let child: WorkerProcess | undefined;
  before(async () => {
    stack = await startStack(
      {
        // Huawei CSBS runs at most 5 deletions per user at once; the account's limit matches it.
        shared: { provider: 'csbs', limits: { maxConcurrent: LIMIT, pollInterval: '100ms' } },
        again: { provider: 'vbs', limits: { maxConcurrent: LIMIT, pollInterval: '100ms' } },
        can: { provider: 'vbs', limits: { maxConcurrent: 3, pollInterval: '50ms' } },
      },
      { sim: { timings: { deleteMs: { vbs: 300, csbs: 300 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
    child = await spawnWorkerProcess(stack);
  });
  after(async () => {
    await child?.stop();
    await stack?.stop();
  });

  test('two runs, two workers: at most 5 deletions at once, the small run is served at once and fairly', async () => {
    const account = stack.account('shared');
    const scope = stack.scope('shared');
    const big = csbsItems(1000, 'big');
    const small = csbsItems(40, 'small');
    stack.sim.seed('csbs', scope, [...big, ...small]);
    const bigItems = big.map((b) => csbsRef(account, b));
    const smallItems = small.map((b) => csbsRef(account, b));

    const bigRun = await rc.start({ items: bigItems, dryRun: false, label: 'big' });
    await waitFor(
      'the big run to delete something',
      async () => (await rc.getProgress(bigRun)).done > 0,
      60_000,
    );
    const smallStartedAt = Date.now();
    const order = () => stack.sim.ctx.counters.deleteRequests.acceptanceOrder(`csbs:${scope}:`);
    const acceptedBeforeSmall = order().length;
    const smallRun = await rc.start({ items: smallItems, dryRun: false, label: 'small' });

    // Both make progress while both run.
    const both = await waitFor(
      'outcomes in both runs',
      async () => {
        const [b, s] = await Promise.all([rc.getProgress(bigRun), rc.getProgress(smallRun)]);
        return b.done > 0 && s.done > 0 ? { b, s } : undefined;
      },
      30_000,
    );
    assert.equal(both.b.state, 'running');
    assert.equal(both.b.batches.total, 2, 'the big run has two batches, both feeding the lane');

    const smallSummary = await rc.result(smallRun);
    const smallSeconds = (Date.now() - smallStartedAt) / 1000;
    assert.deepEqual(smallSummary.counts, { deleted: 40, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    const bigAfterSmall = await rc.getProgress(bigRun);
    assert.equal(bigAfterSmall.state, 'running', 'the small run finished while the big one still ran');
    assert.ok(bigAfterSmall.done < 1000);
    console.log(
      `small run (40 items) finished in ${smallSeconds.toFixed(1)} s while the big run had ${bigAfterSmall.done}/1000 done`,
    );

    // Stop the big run here: the rest of its items end skipped, each exactly once.
    await rc.cancel(bigRun, 'test done with it');
    const bigSummary = await rc.result(bigRun);
    assert.equal(bigSummary.cancelled, true);
    assert.equal(bigSummary.total, 1000);

    const smallOutcomes = reportOf(rc, smallRun);
    const bigOutcomes = await reportOf(rc, bigRun);
    assertOneOutcomeEach(await smallOutcomes, smallItems);
    assertOneOutcomeEach(bigOutcomes, bigItems);
    for (const o of bigOutcomes) {
      assert.ok(
        o.outcome === 'deleted' || (o.outcome === 'skipped' && /cancelled/.test(o.reason)),
        `${o.id}: ${o.outcome} ${o.reason}`,
      );
    }

    // Fairness, judged by the provider's own order of acceptances (not by wall-clock windows a loaded
    // machine stretches): between the small run's first and last accepted deletion, the big run got
    // about as many as the small one.
    const sequence = order();
    const isSmall = (k: string) => k.includes(':small-');
    assert.equal(sequence.filter(isSmall).length, 40, 'every small-run deletion is in the sequence');
    const first = sequence.findIndex(isSmall);
    let last = sequence.length - 1;
    while (last > 0 && !isSmall(sequence[last]!)) last--;
    const bigInWindow = sequence.slice(first, last + 1).filter((k) => !isSmall(k)).length;
    const share = 40 / (40 + bigInWindow);
    console.log(
      `small run's share of deletions while both were active: ${(share * 100).toFixed(0)}% (40 vs ${bigInWindow}); ` +
        `its first deletion was the ${first - acceptedBeforeSmall + 1}. accepted after its start`,
    );
    assert.ok(
      share >= 0.4,
      `the small run got ${(share * 100).toFixed(0)}% of the window while both ran, expected about half`,
    );
    // Served at once, not after the big run: its first deletion came within a few windows of the big
    // run's (the window, plus pipelined groups the lane had already handed out; 1,000 items wait).
    assert.ok(
      first - acceptedBeforeSmall < 10 * LIMIT,
      `the small run waited for ${first - acceptedBeforeSmall} deletions of the big run`,
    );

    // Promise 2: the simulator never saw more than LIMIT deletions in progress for the account.
    // For CSBS this counts queued (waiting_delete) deletions too: what the client's limit bounds.
    const max = stack.sim.ctx.counters.maxConcurrent(`csbs:${scope}`);
    console.log(`observed maximum concurrent deletions: ${max} (limit ${LIMIT})`);
    assert.ok(max <= LIMIT, `observed ${max} deletions at once, limit ${LIMIT}`);
    assert.ok(max >= LIMIT - 1, `the window was used (observed ${max})`);
    const accepted = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    assert.ok(
      Object.values(accepted).every((n) => n === 1),
      'no backup was deleted twice',
    );
    assertNoRepeats(stack.sim, `csbs:${scope}:`);

    // Both worker processes ran deletions for the one lane.
    const lanes = await measureExecutions(stack.client, `WorkflowId = '${laneWorkflowId(account)}'`);
    const workers = new Set(lanes.flatMap((l) => [...l.activityWorkers]));
    assert.ok(
      workers.has(child!.identity),
      `the child worker ran deletions (workers seen: ${[...workers].join(', ')})`,
    );
    assert.ok(
      workers.size >= 2,
      `two worker processes ran deletions (workers seen: ${[...workers].join(', ')})`,
    );
  });

  test('a chunk delivered twice, or re-sent while its outcomes are on their way, is deleted once', async () => {
    const account = stack.account('again');
    const scope = stack.scope('again');
    const backups = vbsBackups(8, 'again');
    stack.sim.seed('vbs', scope, backups);
    const limits = accountLimits(account, stack.loaded.config.accounts[account]!);
    // As the enqueue activity sends it, for a run that is running (deletions check that) but a batch
    // that does not exist, so the lane's outcome signals fail (and are logged): only the lane's own
    // bookkeeping is under test here.
    const run = await stack.client.workflow.start(retentionCleanup, {
      workflowId: `again-run-${Date.now()}`,
      taskQueue: stack.taskQueue,
      args: [{ itemsToFollow: true, dryRun: false }],
    });
    const chunk: EnqueueRequest = {
      batchWorkflowId: `${run.workflowId}/batch-00099`,
      chunk: 0,
      items: backups.map((b) => ({ account, id: b.id })),
      limits,
    };
    const send = (req: EnqueueRequest) =>
      stack.client.workflow.signalWithStart(accountLane, {
        workflowId: laneWorkflowId(account),
        taskQueue: stack.taskQueue,
        args: [{ account, limits }],
        signal: enqueueSignal,
        signalArgs: [req],
      });
    const lane = await send(chunk);
    const calls = () =>
      backups.map((b) => stack.sim.ctx.counters.deleteCalls.get(`vbs:${scope}:${b.id}`) ?? 0);
    await waitFor('all eight deleted', () => calls().every((n) => n === 1), 30_000);
    await waitFor('the lane to be done with them', async () => {
      const st = await lane.query(laneStatusQuery);
      return st.inFlight === 0 && Object.keys(st.queued).length === 0;
    });
    await send(chunk); // a retried enqueue: same chunk number
    await send({ ...chunk, chunk: 1, resend: true, state: 'active' }); // a re-send racing the outcomes
    // No fixed wait: a query after the two signals sees the lane's state after them (Temporal answers a
    // query once the signals' workflow task is done). Nothing queued and nothing in flight there means
    // the lane scheduled no deletion for them, so no delete request can still be on its way.
    const afterResend = await lane.query(laneStatusQuery);
    assert.equal(afterResend.inFlight, 0, 'the re-sent chunk started no deletion');
    assert.deepEqual(afterResend.queued, {}, 'the re-sent chunk queued nothing');
    assert.deepEqual(
      calls(),
      backups.map(() => 1),
      'no second delete call for any backup',
    );
    assertNoRepeats(stack.sim, `vbs:${scope}:`);
    assert.equal((await lane.query(laneStatusQuery)).completedThisExecution, 8);
    await run.terminate('test done');
  });

  test('a lane continuing-as-new every few items, giving queued items back: one outcome each, none deleted twice', async () => {
    const account = stack.account('can');
    const scope = stack.scope('can');
    const limits = accountLimits(account, stack.loaded.config.accounts[account]!);
    // Started ahead of the run, with tuning the run's signal-with-start then finds in place.
    await stack.client.workflow.start(accountLane, {
      workflowId: laneWorkflowId(account),
      taskQueue: stack.taskQueue,
      args: [{ account, limits, tuning: { continueAfterEvents: 20, carryBudgetBytes: 400 } }],
    });
    const backups = vbsBackups(150, 'can');
    stack.sim.seed('vbs', scope, backups);
    const items = backups.map((b) => ({ account, id: b.id }));
    const runId = await rc.start({ items, dryRun: false, label: 'lane continue-as-new' });
    const summary = await rc.result(runId);
    assert.deepEqual(summary.counts, { deleted: 150, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assertOneOutcomeEach(await reportOf(rc, runId), items);
    const accepted = Object.entries(stack.sim.ctx.counters.snapshot().acceptedDeletes).filter(([k]) =>
      k.startsWith(`vbs:${scope}:`),
    );
    assert.equal(accepted.length, 150);
    assert.ok(
      accepted.every(([, n]) => n === 1),
      'no backup deleted twice',
    );
    assertNoRepeats(stack.sim, `vbs:${scope}:`, 'no delete request after acceptance across continue-as-new');

    const lanes = await measureExecutions(stack.client, `WorkflowId = '${laneWorkflowId(account)}'`);
    const [batch] = await measureExecutions(stack.client, `WorkflowId = '${summary.batchWorkflowIds[0]}'`);
    const returned = batch!.signalsReceived.get('returnItems') ?? 0;
    console.log(`lane executions: ${lanes.length}; returnItems signals to the batch: ${returned}`);
    assert.ok(lanes.length >= 8, `the lane continued-as-new many times (${lanes.length} executions)`);
    assert.ok(returned >= 1, 'the lane gave queued items back at least once');
  });
});
