/**
 * Worker process for the raw-throughput baseline (bench/noop-workflow.ts): started by bench/bench.ts as
 * a child process, like the product's worker, with the same activity slots. Usage:
 * `node --import tsx bench/noop-worker.ts TASK_QUEUE` (TEMPORAL_ADDRESS from the environment).
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main(): Promise<void> {
  const taskQueue = process.argv[2];
  if (!taskQueue) throw new Error('usage: noop-worker.ts TASK_QUEUE');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({
    address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
  });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: require.resolve('./noop-workflow'),
    activities: { async noop() {} },
    // As worker/worker.ts and worker/main.ts (the same process settings, so the same cache).
    maxConcurrentActivityTaskExecutions: 200,
    ...(process.env.RETENTION_MAX_CACHED_WORKFLOWS
      ? { maxCachedWorkflows: Number(process.env.RETENTION_MAX_CACHED_WORKFLOWS) }
      : {}),
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.once('SIGINT', () => worker.shutdown());
  console.error(`noop worker ready on task queue "${taskQueue}"`);
  await worker.run();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
