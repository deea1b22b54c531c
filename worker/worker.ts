/**
 * Builds a worker for the retention-cleanup task queue: the three workflows and the activities, wired
 * to the config's accounts. Used by `retention-cleanup worker`, the demo and the tests.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { AdapterRegistry } from '../activities/providers/registry';
import { temporalSettings } from '../client/connection';
import type { LoadedConfig } from './config';

export interface StartedWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  running: Promise<void>;
  shutdown(): Promise<void>;
}

export interface WorkerParams {
  loaded: LoadedConfig;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** A prebuilt workflow bundle (tests build it once); else the workflows are bundled at start. */
  workflowBundlePath?: string;
  identity?: string;
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'>;
}

export async function startWorker(params: WorkerParams): Promise<StartedWorker> {
  const settings = temporalSettings({ address: params.address, namespace: params.namespace });
  const taskQueue = params.taskQueue ?? params.loaded.config.taskQueue;
  const nativeConnection = await NativeConnection.connect(settings.connectionOptions);
  // Activities signal-with-start the lanes through an ordinary client.
  const clientConnection = await Connection.connect(settings.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: settings.namespace });
  const adapters = new AdapterRegistry(params.loaded);
  const bundlePath = params.workflowBundlePath ?? process.env.RETENTION_WORKFLOW_BUNDLE;
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: settings.namespace,
    taskQueue,
    ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({ loaded: params.loaded, adapters, client, taskQueue }),
    ...(params.identity ? { identity: params.identity } : {}),
    maxConcurrentActivityTaskExecutions: 200,
    ...params.tuning,
  });
  const running = worker.run().finally(async () => {
    await adapters.close();
    await clientConnection.close();
    await nativeConnection.close();
  });
  return {
    worker,
    running,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
