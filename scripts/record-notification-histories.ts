/**
 * Records the histories of the notification path (PATCHES.notifications) that test/replay.test.ts
 * replays: a run that ends with a failed item (run-finished and run-problems sent at its end) and the
 * lane of a misconfigured account (circuit-open). Kept apart from scripts/record-histories.ts so that
 * re-recording these never rewrites the histories recorded before notifications existed (those keep
 * the old branch of the patch tested).
 *
 *   npx tsx scripts/record-notification-histories.ts   # writes test/histories/{run,lane}-notified.json
 *
 * The worker config lists one webhook (a receiver on loopback started here) for every event. It
 * starts its own Temporal dev server and provider simulator; about half a minute.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { HISTORIES_DIR, saveHistory as save } from '../test/helpers/history-files';
import { laneWorkflowId } from '../contract/ids';
import { RUN_EVENT_NAMES } from '../contract/notifications';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { DevServer } from './dev-server';

async function main(): Promise<void> {
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const server = new DevServer({ headless: true });
  await server.start();
  process.env.TEMPORAL_ADDRESS = server.address;
  // Imported after TEMPORAL_ADDRESS is set: the stack reads it.
  const { startStack, vbsBackups } = await import('../test/helpers/stack');
  const stack = await startStack(
    { rec: { provider: 'vbs', limits: { maxConcurrent: 2 } }, typo: { provider: 'vbs' } },
    {
      worker: false,
      config: { notifications: [{ name: 'recorder', url: hook, events: [...RUN_EVENT_NAMES] }] },
    },
  );
  (stack.loaded.config.accounts[stack.account('typo')] as { endpoint: string }).endpoint =
    `${stack.sim.url}/vbs-typo`;
  await stack.startWorker();
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    const { client, taskQueue } = stack;
    const account = stack.account('rec');
    const typo = stack.account('typo');
    const backups = vbsBackups(4, 'rec');
    stack.sim.seed('vbs', stack.scope('rec'), backups);
    console.log('recording histories:');
    // 1. A run with deletions and items of a misconfigured account: run-finished, run-problems.
    const run = await client.workflow.start(retentionCleanup, {
      workflowId: 'record/notified-run',
      taskQueue,
      args: [
        {
          items: [...backups.map((b) => ({ account, id: b.id })), { account: typo, id: 'typo-1' }],
          dryRun: false,
          label: 'recorded notified run',
        },
      ],
      memo: { label: 'recorded notified run', startedBy: 'record-notification-histories' },
    });
    await run.result();
    await save(client, 'run-notified', run.workflowId);
    // 2. The misconfigured account's lane: circuit-open (closed by terminating it once it was sent).
    for (let i = 0; i < 200 && !received.some((b) => b.includes('"circuit-open"')); i++)
      await new Promise((r) => setTimeout(r, 100));
    if (!received.some((b) => b.includes('"circuit-open"'))) throw new Error('no circuit-open was sent');
    const lane = client.workflow.getHandle(laneWorkflowId(typo));
    for (let i = 0; i < 200; i++) {
      const events = (await lane.fetchHistory()).events ?? [];
      if (events.some((e) => e.activityTaskCompletedEventAttributes)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await lane.terminate('recording finished');
    await save(client, 'lane-notified', lane.workflowId);
  } finally {
    await stack.stop();
    await server.stop();
    receiver.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
