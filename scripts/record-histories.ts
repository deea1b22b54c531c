/**
 * Records the workflow histories that test/replay.test.ts replays against the current workflow code,
 * so a change that would break running workflows (non-determinism) fails the suite.
 *
 *   npx tsx scripts/record-histories.ts          # writes test/histories/*.json
 *   npx tsx scripts/record-histories.ts approval # only run-approved.json and run-rejected.json
 *
 * test/histories/lane-before-groups.json, lane-before-pipeline.json, lane-before-hand-over.json and
 * run-before-activation.json are not written here: recorded before grouped deletions, pipelined groups
 * (with oldest-batch-first), the groups' hand-over and account-aware batch activation, kept as they are
 * so executions still open during an upgrade keep replaying (the patched() paths).
 * test/histories/run-account-batches.json is run-deletions.json as this script wrote it after patch
 * 'account-batches' (issue 16), kept beside the older run-deletions.json (before that patch).
 *
 * Regenerate them only when a change to the workflows is meant to be incompatible with executions
 * already running (and then plan the rollout: patched(), or drain the old runs first). It starts its
 * own Temporal dev server and provider simulator; about a minute.
 *
 * Recorded: a small run with deletions whose items arrive through addItems/sealItems (with pause,
 * resume and a progress query), one of its batches; a dry run; a cancelled run and its batch; and the
 * account lane that served them (terminated at the end, so its history is closed). And the approval
 * path (patch 'approval'): a policy run that awaits approval, is approved and lists again; one that is
 * rejected.
 *
 * File format: protobufjs object JSON (History.toObject with enums, 64-bit integers and bytes as
 * strings), read back with History.fromObject (test/helpers/history-files.ts). Not the SDK's
 * historyToJSON: with this install's two nested copies of protobufjs it throws "type must be a Type".
 */
import { mkdirSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { HISTORIES_DIR, saveHistory as save } from '../test/helpers/history-files';
import { laneWorkflowId } from '../contract/ids';
import {
  addItemsUpdate,
  approveUpdate,
  planQuery,
  progressQuery,
  rejectUpdate,
  sealItemsUpdate,
} from '../contract/messages';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { DevServer } from './dev-server';

async function main(): Promise<void> {
  const server = new DevServer({ headless: true });
  await server.start();
  process.env.TEMPORAL_ADDRESS = server.address;
  // Imported after TEMPORAL_ADDRESS is set: the stack reads it.
  const { startStack, vbsBackups } = await import('../test/helpers/stack');
  const only = process.argv[2];
  const stack = await startStack(
    {
      rec: { provider: 'vbs', limits: { maxConcurrent: 2, pollInterval: '100ms' } },
      apr: { provider: 'vbs', limits: { pollInterval: '100ms' } },
    },
    { sim: { timings: { deleteMs: { vbs: 200 } } } },
  );
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    const { client, taskQueue } = stack;
    const account = stack.account('rec');
    const backups = vbsBackups(40, 'rec');
    stack.sim.seed('vbs', stack.scope('rec'), backups);
    const item = (i: number) => ({ account, id: backups[i]!.id });

    console.log('recording histories:');
    if (only === 'approval') return await recordApproval(client, taskQueue, stack);
    // 1. Deletions, paged: start + addItems + sealItems, paused and resumed on the way.
    const paged = await client.workflow.start(retentionCleanup, {
      workflowId: 'record/paged-run',
      taskQueue,
      args: [
        { items: [0, 1, 2, 3].map(item), itemsToFollow: true, dryRun: false, label: 'recorded paged run' },
      ],
      memo: { label: 'recorded paged run', startedBy: 'record-histories' },
    });
    await paged.executeUpdate(addItemsUpdate, {
      args: [{ items: [item(4), item(5), { account, id: 'never-existed' }] }],
    });
    await paged.executeUpdate(sealItemsUpdate);
    await paged.signal('pause', { reason: 'recording' });
    await paged.query(progressQuery);
    await new Promise((r) => setTimeout(r, 500));
    await paged.signal('resume');
    await paged.result();
    await save(client, 'run-deletions', paged.workflowId);
    await save(client, 'batch-deletions', `${paged.workflowId}/batch-00000`);

    // 2. A dry run.
    const dry = await client.workflow.start(retentionCleanup, {
      workflowId: 'record/dry-run',
      taskQueue,
      args: [{ items: [6, 7, 8].map(item), label: 'recorded dry run' }],
    });
    await dry.result();
    await save(client, 'run-dry', dry.workflowId);

    // 3. A cancelled run.
    const cancelled = await client.workflow.start(retentionCleanup, {
      workflowId: 'record/cancelled-run',
      taskQueue,
      args: [
        {
          items: Array.from({ length: 30 }, (_, i) => item(10 + i)),
          dryRun: false,
          label: 'recorded cancelled run',
        },
      ],
    });
    for (;;) {
      const p = await cancelled.query(progressQuery);
      if (p.done > 0 || p.inFlight > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    await cancelled.signal('cancel', { reason: 'recording' });
    await cancelled.result();
    await save(client, 'run-cancelled', cancelled.workflowId);
    await save(client, 'batch-cancelled', `${cancelled.workflowId}/batch-00000`);

    // 4. The lane that served all three (closed by terminating it, as an operator might).
    const lane = client.workflow.getHandle(laneWorkflowId(account));
    await lane.terminate('recording finished');
    await save(client, 'lane', lane.workflowId);
    await recordApproval(client, taskQueue, stack);
  } finally {
    await stack.stop();
    await server.stop();
  }
}

/** 5. The approval path: a policy run approved (and listed again), one rejected. */
async function recordApproval(
  client: Client,
  taskQueue: string,
  stack: {
    account(n: string): string;
    scope(n: string): string;
    sim: { seed(p: string, s: string, b: unknown[]): number };
  },
): Promise<void> {
  const account = stack.account('apr');
  const day = 86_400_000;
  const backups = (prefix: string) =>
    Array.from({ length: 4 }, (_, d) => ({
      id: `${prefix}-d${d}`,
      status: 'available',
      volume_id: `${prefix}-vol`,
      created_at: new Date(Date.now() - d * day - 3_600_000).toISOString().replace('Z', ''),
    }));
  for (const [name, decide] of [
    ['run-approved', 'approve'],
    ['run-rejected', 'reject'],
  ] as const) {
    stack.sim.seed('vbs', stack.scope('apr'), backups(name));
    const run = await client.workflow.start(retentionCleanup, {
      workflowId: `record/${name}`,
      taskQueue,
      args: [
        {
          policy: { accounts: [account], rules: { keepLast: 1 }, groups: [`${name}-vol`] },
          dryRun: false,
          approval: { required: true, approvers: ['alice'] },
          label: `recorded ${name}`,
        },
      ],
    });
    while ((await run.query(progressQuery)).state !== 'awaiting-approval')
      await new Promise((r) => setTimeout(r, 100));
    const plan = await run.query(planQuery);
    if (decide === 'approve')
      await run.executeUpdate(approveUpdate, {
        args: [{ planHash: plan.planHash, approver: 'alice', comment: 'recording' }],
      });
    else await run.executeUpdate(rejectUpdate, { args: [{ approver: 'alice', reason: 'recording' }] });
    await run.result();
    await save(client, name, run.workflowId);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
