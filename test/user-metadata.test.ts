/**
 * The Web UI as the operator's console (issue 18), black-box through the real dev server, a worker
 * and the simulator: a run started through RetentionClient shows its summary in
 * `temporal workflow describe`; `temporal workflow metadata` shows its current details (the
 * per-account table) and a description for every handler it registers; the run's batch and the
 * account lane have their own summaries, the lane's current details show its window; the deletion
 * activities (one item, a plain group, a pipelined group) and the timers (idle, circuit cool-down)
 * carry summaries on their history events; a paused run's details say how to resume; a run a
 * Schedule starts carries its summary too. Pure checks of the renderers (contract/user-metadata.ts,
 * workflows/current-details.ts) and of docs/handlers.md follow.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { RetentionClient } from '../client/retention-client';
import { RetentionSchedules } from '../client/schedules';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { handlersMarkdown } from '../scripts/gen-handlers-doc';
import { renderRunDetails } from '../workflows/current-details';
import { HANDLER_DESCRIPTIONS } from '../workflows/handler-descriptions';
import { batchWorkflowId, laneWorkflowId } from '../contract/ids';
import type { RunProgress } from '../contract/messages';
import type { ItemOutcome } from '../contract/model';
import { runSummary } from '../contract/user-metadata';
import { resultWithin, waitFor } from './helpers/runs';
import { startStack, temporalAddress, vbsBackups, type Stack } from './helpers/stack';

const EventType = temporal.api.enums.v1.EventType;

/** What the SDK's built-in `__temporal_workflow_metadata` query returns (`temporal workflow metadata`). */
interface WorkflowMetadata {
  definition: {
    type: string;
    queryDefinitions?: { name: string; description?: string }[];
    signalDefinitions?: { name: string; description?: string }[];
    updateDefinitions?: { name: string; description?: string }[];
  };
  currentDetails?: string;
}

/** The handlers each workflow registers (grep setHandler in workflows/): all must be described. */
const HANDLERS = {
  retentionCleanup: [
    'progress',
    'pause',
    'resume',
    'cancel',
    'batchReport',
    'addItems',
    'sealItems',
    'plan',
    'approve',
    'reject',
  ],
  cleanupBatch: ['batchProgress', 'batchControl', 'outcomes', 'accepted', 'returnItems', 'skipItems'],
  accountLane: ['laneStatus', 'setConcurrency', 'enqueue', 'batchState'],
};

const run = promisify(execFile);

/** The Temporal CLI against the test's dev server, JSON output parsed. */
async function temporalCli(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    ensureTemporalCli(),
    [...args, '--address', temporalAddress(), '--output', 'json'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * For polling: undefined while the query fails. On a loaded machine a query can time out while the
 * workflow's task queue is busy, or arrive before a just-started workflow's first task completed.
 */
const metadataOrNone = (h: WorkflowHandle) =>
  h.query<WorkflowMetadata>('__temporal_workflow_metadata').catch(() => undefined);

/** Handler names whose description is missing, empty or the "undocumented" fallback. */
function undescribed(m: WorkflowMetadata): string[] {
  const defs = [
    ...(m.definition.queryDefinitions ?? []),
    ...(m.definition.signalDefinitions ?? []),
    ...(m.definition.updateDefinitions ?? []),
  ].filter((d) => !d.name.startsWith('__'));
  return defs
    .filter((d) => !d.description || d.description !== HANDLER_DESCRIPTIONS[d.name])
    .map((d) => d.name);
}

function registered(m: WorkflowMetadata): string[] {
  return [
    ...(m.definition.queryDefinitions ?? []),
    ...(m.definition.signalDefinitions ?? []),
    ...(m.definition.updateDefinitions ?? []),
  ]
    .map((d) => d.name)
    .filter((n) => !n.startsWith('__'))
    .sort();
}

/** The user-metadata summaries on a workflow's history events of the given type. */
async function eventSummaries(
  h: WorkflowHandle,
  type: temporal.api.enums.v1.EventType,
): Promise<{ activityType?: string; summary?: string }[]> {
  const history = await h.fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.eventType === type)
    .map((e) => ({
      activityType: e.activityTaskScheduledEventAttributes?.activityType?.name ?? undefined,
      summary: e.userMetadata?.summary
        ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary)
        : undefined,
    }));
}

/** The deletion activities a lane scheduled, with their summaries. */
async function deletionSummaries(lane: WorkflowHandle) {
  return (await eventSummaries(lane, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).filter((s) =>
    ['deleteBackup', 'deleteBackups'].includes(s.activityType ?? ''),
  );
}

/** Kinds of deletion summaries seen across the tests: one item, a plain group, a pipelined group. */
const kindsSeen = new Set<string>();

function assertDeletionSummaries(
  scheduled: { activityType?: string; summary?: string }[],
  account: string,
): void {
  assert.ok(scheduled.length > 0, `the lane of ${account} scheduled deletions`);
  const acc = account.replace(/[-]/g, '\\-');
  for (const s of scheduled) {
    const summary = s.summary ?? '(no summary)';
    if (s.activityType === 'deleteBackup') {
      assert.match(summary, new RegExp(`^delete ${acc}/\\S+$`), 'summary of a deleteBackup activity');
      kindsSeen.add('one');
    } else {
      const m = new RegExp(`^delete group of \\d+ on ${acc}( \\(pipelined\\))?$`).exec(summary);
      assert.ok(m, `summary of a deleteBackups activity: ${summary}`);
      kindsSeen.add(m[1] ? 'pipelined' : 'group');
    }
  }
}

describe('user metadata in the Web UI and the CLI (end to end)', () => {
  let stack: Stack;
  let rc: RetentionClient;
  before(async () => {
    stack = await startStack(
      {
        ua: { provider: 'vbs', limits: { maxConcurrent: 4 } },
        ub: { provider: 'vbs', limits: { maxConcurrent: 4 } },
        // Every delete fails here (faults below), so its breaker opens and the lane waits a cool-down.
        cb: {
          provider: 'vbs',
          limits: { maxConcurrent: 1, circuitBreaker: { failureRate: 0.5, window: 2, coolDown: '10m' } },
        },
        // Deletions slow enough that a paused run is seen paused with work left.
        slow: { provider: 'vbs', limits: { maxConcurrent: 1, pollInterval: '500ms' } },
      },
      { sim: { timings: { deleteMs: { vbs: 200 } } } },
    );
    rc = new RetentionClient(stack.client, stack.taskQueue);
  });
  after(async () => stack?.stop());

  test('a finished run: summary in describe, details table and described handlers in metadata, lane and activity summaries', async () => {
    const a = stack.account('ua');
    const b = stack.account('ub');
    const backupsA = vbsBackups(6, 'um-a');
    const backupsB = vbsBackups(4, 'um-b');
    stack.sim.seed('vbs', stack.scope('ua'), backupsA);
    stack.sim.seed('vbs', stack.scope('ub'), backupsB);
    const items = [
      ...backupsA.map((x) => ({ account: a, id: x.id })),
      ...backupsB.map((x) => ({ account: b, id: x.id })),
    ];
    const runId = await rc.start({ items, dryRun: false, label: 'user metadata' });
    const summary = await resultWithin(rc, runId, 120_000);
    assert.equal(summary.counts.deleted, 10);

    // (a) `temporal workflow describe` shows the summary (and the client's describe() agrees).
    // The CLI prints it under executionConfig.userMetadata (the text view: "Summary" in its header).
    const described = (await temporalCli(['workflow', 'describe', '--workflow-id', runId])) as {
      executionConfig?: { userMetadata?: { summary?: string; details?: string } };
    };
    const cliMetadata = described.executionConfig?.userMetadata;
    assert.equal(cliMetadata?.summary, 'EXECUTE: delete 10 backups on 2 accounts (user metadata)');
    assert.match(cliMetadata?.details ?? '', /Label: user metadata/);
    const handle = stack.client.workflow.getHandle(runId);
    const d = await handle.describe();
    assert.equal(await d.staticSummary(), 'EXECUTE: delete 10 backups on 2 accounts (user metadata)');
    const details = (await d.staticDetails()) ?? '';
    assert.match(details, /EXECUTE: backups will be deleted/);
    assert.match(details, new RegExp(`\\| ${a} \\| 6 \\|`));
    assert.match(details, new RegExp(`\\| ${b} \\| 4 \\|`));

    // (b) `temporal workflow metadata`: current details with the per-account table, every handler described.
    // The CLI prints the query's answer as {"queryResult": [<metadata>]}.
    const { queryResult } = (await waitFor('temporal workflow metadata to answer', () =>
      temporalCli(['workflow', 'metadata', '--workflow-id', runId]).catch(() => undefined),
    )) as { queryResult?: WorkflowMetadata[] };
    const cliMeta = queryResult?.[0];
    assert.ok(cliMeta, 'temporal workflow metadata answers');
    const current = cliMeta.currentDetails ?? '';
    assert.match(current, /\*\*State: completed\*\*/, current);
    assert.match(
      current,
      /\| account \| provider \| deleted \| absent \| blocked \| failed \| skipped \| in flight \|/,
    );
    assert.match(current, new RegExp(`\\| ${a} \\| vbs \\| 6 \\| 0 \\| 0 \\| 0 \\| 0 \\|`), current);
    assert.match(current, new RegExp(`\\| ${b} \\| vbs \\| 4 \\| 0 \\| 0 \\| 0 \\| 0 \\|`), current);
    assert.equal(cliMeta.definition.type, 'retentionCleanup');
    assert.deepEqual(registered(cliMeta), [...HANDLERS.retentionCleanup].sort());
    assert.deepEqual(undescribed(cliMeta), [], 'every handler of the run has its description');

    // The batch: its summary, and its handlers described.
    const batch = stack.client.workflow.getHandle(batchWorkflowId(runId, 0));
    assert.equal(await (await batch.describe()).staticSummary(), `batch 1 of run ${runId}: 10 items`);
    const batchMeta = await waitFor('the batch metadata', () => metadataOrNone(batch));
    assert.deepEqual(registered(batchMeta), [...HANDLERS.cleanupBatch].sort());
    assert.deepEqual(undescribed(batchMeta), []);
    // Its hand-overs to the lanes say what they send where.
    const sends = (await eventSummaries(batch, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)).filter(
      (e) => e.activityType === 'enqueueToLane',
    );
    assert.deepEqual(
      sends.map((e) => e.summary).sort(),
      [`send 6 items to the lane of ${a}`, `send 4 items to the lane of ${b}`].sort(),
    );

    // (c) The lane: summary (set by the signal-with-start that started it), window in current details.
    const lane = stack.client.workflow.getHandle(laneWorkflowId(a));
    assert.equal(await (await lane.describe()).staticSummary(), `lane ${a} (vbs): max 4 at once`);
    const laneMeta = await waitFor('the lane to show itself idle', async () => {
      const m = await metadataOrNone(lane);
      return m?.currentDetails?.includes('idle') ? m : undefined;
    });
    assert.match(
      laneMeta.currentDetails ?? '',
      /Window 0 of 4 in flight \(configured max 4\)/,
      laneMeta.currentDetails,
    );
    assert.match(laneMeta.currentDetails ?? '', /Circuit breaker: none configured/);
    assert.deepEqual(registered(laneMeta), [...HANDLERS.accountLane].sort());
    assert.deepEqual(undescribed(laneMeta), []);

    // (d) Every deletion activity's event carries a summary naming the account and what it deletes.
    assertDeletionSummaries(await deletionSummaries(lane), a);
    assertDeletionSummaries(await deletionSummaries(stack.client.workflow.getHandle(laneWorkflowId(b))), b);
    // An idle lane waits to end: that timer says so.
    const timers = await waitFor('the idle timer', async () => {
      const t = await eventSummaries(lane, EventType.EVENT_TYPE_TIMER_STARTED);
      return t.some((x) => x.summary?.startsWith('idle: the lane ends in')) ? t : undefined;
    });
    assert.ok(
      timers.every((t) => t.summary),
      `every lane timer has a summary: ${JSON.stringify(timers)}`,
    );
  });

  test('an open circuit shows in the lane timer and details; a paused run says how to resume', async () => {
    const cbAccount = stack.account('cb');
    const cbScope = stack.scope('cb');
    const cbBackups = vbsBackups(6, 'um-cb');
    stack.sim.seed('vbs', cbScope, cbBackups);
    stack.sim.setFaults([
      {
        provider: 'vbs',
        method: 'DELETE',
        path: `^/v3/${cbScope}/backups/`,
        fault: {
          kind: 'status',
          status: 400,
          body: { error_code: 'VBS.0005', error_msg: 'injected: refused' },
        },
      },
    ]);
    const cbRun = await rc.start({
      items: cbBackups.map((x) => ({ account: cbAccount, id: x.id })),
      dryRun: false,
    });
    const lane = stack.client.workflow.getHandle(laneWorkflowId(cbAccount));
    await waitFor('the lane to start', () =>
      lane.describe().then(
        () => true,
        () => false,
      ),
    );
    const cool = await waitFor('the cool-down timer', async () => {
      const t = await eventSummaries(lane, EventType.EVENT_TYPE_TIMER_STARTED);
      return t.find((x) => x.summary?.startsWith('circuit open'));
    });
    assert.match(cool.summary ?? '', /^circuit open: cool-down 10m, until \d\d:\d\d:\d\dZ$/);
    const laneMeta = await waitFor('the lane details to show the open breaker', async () => {
      const m = await metadataOrNone(lane);
      return m?.currentDetails?.includes('Circuit breaker: **open**') ? m : undefined;
    });
    assert.match(laneMeta.currentDetails ?? '', /open until \d{4}-/);

    // A paused run: its details say so, and how to resume.
    const slow = stack.account('slow');
    const slowBackups = vbsBackups(40, 'um-slow');
    stack.sim.seed('vbs', stack.scope('slow'), slowBackups);
    const pausedRun = await rc.start({
      items: slowBackups.map((x) => ({ account: slow, id: x.id })),
      dryRun: false,
    });
    await waitFor('a first deletion', async () =>
      rc.getProgress(pausedRun).then(
        (p) => p.done > 0,
        () => false,
      ),
    );
    await rc.pause(pausedRun);
    const paused = await waitFor('the run details to show PAUSED', async () => {
      const m = await metadataOrNone(stack.client.workflow.getHandle(pausedRun));
      return m?.currentDetails?.includes('**State: PAUSED**') ? m.currentDetails : undefined;
    });
    assert.match(paused, /Resume with the `resume` signal/);
    assert.ok(paused.includes(`retention-cleanup resume ${pausedRun}`), paused);

    assertDeletionSummaries(await deletionSummaries(lane), cbAccount);
    assertDeletionSummaries(
      await deletionSummaries(stack.client.workflow.getHandle(laneWorkflowId(slow))),
      slow,
    );

    // Between them the lanes went through all three places a deletion starts (ub's 4 items fit its
    // window at once: a plain group; cb's probe: one item; the rest pipelined), so each is checked.
    assert.deepEqual([...kindsSeen].sort(), ['group', 'one', 'pipelined']);

    await rc.cancel(cbRun, 'test over');
    await rc.cancel(pausedRun, 'test over');
    stack.sim.setFaults([]);
    await resultWithin(rc, pausedRun, 120_000);
  });

  test('a run a Schedule starts carries its summary and says which schedule started it', async () => {
    const schedules = new RetentionSchedules(stack.client, stack.taskQueue);
    const scheduleId = `um-${randomUUID().slice(0, 8)}`;
    const account = stack.account('ua');
    await schedules.create({
      scheduleId,
      every: '24h',
      paused: true,
      request: {
        items: [
          { account, id: 'sched-1' },
          { account, id: 'sched-2' },
        ],
        label: 'nightly check',
      },
    });
    try {
      const { workflowId } = await schedules.trigger(scheduleId, { waitMs: 30_000 });
      assert.ok(workflowId, 'the triggered run started');
      const d = await stack.client.workflow.getHandle(workflowId).describe();
      assert.equal(await d.staticSummary(), 'DRY RUN: would delete 2 backups on 1 account (nightly check)');
      assert.match(
        (await d.staticDetails()) ?? '',
        new RegExp(`Started by: schedule ${scheduleId} \\(every 24h`),
      );
      await stack.client.workflow.getHandle(workflowId).result();
    } finally {
      await schedules.delete(scheduleId);
    }
  });
});

describe('user metadata renderers', () => {
  test('run summaries: mode, counts, policy accounts, paged runs', () => {
    const items = [
      { account: 'x', id: '1' },
      { account: 'y', id: '2' },
    ];
    assert.equal(runSummary({ items, dryRun: false }), 'EXECUTE: delete 2 backups on 2 accounts');
    assert.equal(
      runSummary({ items: [items[0]!], label: 'demo' }),
      'DRY RUN: would delete 1 backup on 1 account (demo)',
    );
    assert.equal(
      runSummary({ policy: { accounts: ['a', 'b'] }, dryRun: false, label: 'nightly' }),
      'EXECUTE: retention policy on a, b (nightly)',
    );
    assert.equal(
      runSummary({ items: [], itemsToFollow: true, dryRun: false }),
      'EXECUTE: delete backups sent in pages (addItems)',
    );
    assert.ok(runSummary({ items, label: 'x'.repeat(500) }).length <= 200, 'one short line');
  });

  test('a provider message cannot break the details table', () => {
    const p: RunProgress = {
      workflowId: 'w',
      state: 'running',
      dryRun: false,
      total: 1,
      counts: { deleted: 0, absent: 0, blocked: 0, failed: 1, skipped: 0 },
      done: 1,
      inFlight: 0,
      perAccount: {
        acc: { provider: 'vbs', counts: { deleted: 0, absent: 0, blocked: 0, failed: 1, skipped: 0 } },
      },
      batches: { total: 1, active: 1, done: 0 },
      startedAt: new Date(0).toISOString(),
      ratePerMinute: 1,
      etaSeconds: null,
    };
    const md = renderRunDetails(p, {
      workflowId: 'w',
      sealed: true,
      firstProblems: [
        { account: 'acc', id: 'b|1', outcome: 'failed', reason: 'bad | pipe\nnew line' } as ItemOutcome,
      ],
    });
    assert.ok(md.includes('- failed acc/b 1: bad pipe new line'), md);
  });

  test('docs/handlers.md is generated from HANDLER_DESCRIPTIONS (npx tsx scripts/gen-handlers-doc.ts)', async () => {
    const onDisk = readFileSync(join(__dirname, '..', 'docs', 'handlers.md'), 'utf8');
    assert.equal(
      onDisk,
      await handlersMarkdown(),
      'docs/handlers.md is stale: run `npx tsx scripts/gen-handlers-doc.ts`',
    );
    for (const names of Object.values(HANDLERS))
      for (const n of names) assert.ok(HANDLER_DESCRIPTIONS[n], `${n} has a description`);
  });
});
