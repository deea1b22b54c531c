/**
 * Builds a worker for the retention-cleanup task queue: the three workflows and the activities, wired
 * to the config's accounts. Used by `retention-cleanup worker`, the demo and the tests.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { instrumentActivities } from '../activities/instrumentation';
import { createNotificationActivities } from '../activities/notify';
import { AdapterRegistry } from '../activities/providers/registry';
import { temporalSettings } from '../client/connection';
import { dataConverterFromEnv } from '../codec/data-converter';
import type { LoadedConfig } from './config';
import { createRetentionMetrics } from './metrics';

/** See maxHeartbeatThrottleInterval below (bench/history.ts counts heartbeats with it). */
export const MAX_HEARTBEAT_THROTTLE_MS = 2_000;

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
  tuning?: Pick<
    WorkerOptions,
    'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'
  >;
}

export async function startWorker(params: WorkerParams): Promise<StartedWorker> {
  const settings = temporalSettings({ address: params.address, namespace: params.namespace });
  // Payload encryption when RETENTION_CODEC_KEYS is set (a bad key list fails before connecting): the
  // worker and its lane client encrypt alike.
  const dataConverter = dataConverterFromEnv();
  const taskQueue = params.taskQueue ?? params.loaded.config.taskQueue;
  const nativeConnection = await NativeConnection.connect(settings.connectionOptions);
  // Activities signal-with-start the lanes through an ordinary client.
  const clientConnection = await Connection.connect(settings.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: settings.namespace, dataConverter });
  const adapters = new AdapterRegistry(params.loaded);
  const bundlePath = params.workflowBundlePath ?? process.env.RETENTION_WORKFLOW_BUNDLE;
  // Observability: our metrics on the runtime's meter (served with Temporal's own when the process
  // installed a Prometheus endpoint, see worker/telemetry.ts; a no-op otherwise) and ids in activity logs.
  const metrics = createRetentionMetrics(Runtime.instance().metricMeter);
  const instrumentation = instrumentActivities(params.loaded, metrics);
  // Notifications: the endpoints stay here, in the worker (activities/notify.ts).
  const notify = createNotificationActivities({
    loaded: params.loaded,
    metrics,
    namespace: settings.namespace,
  });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: settings.namespace,
    taskQueue,
    dataConverter,
    ...(bundlePath
      ? { workflowBundle: { codePath: bundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: {
      ...createActivities({ loaded: params.loaded, adapters, client, taskQueue }),
      ...notify.activities,
    },
    ...(params.identity ? { identity: params.identity } : {}),
    interceptors: { activity: [instrumentation.interceptors] },
    maxConcurrentActivityTaskExecutions: 200,
    // Heartbeats after an activity's first are sent at most this often (default: 80% of the heartbeat
    // timeout, 24 s here). A Veeam deletion records "requesting" in its first heartbeat and the job
    // session id in the next; the sooner that one reaches the server, the sooner a retry can resume the
    // session instead of watching the VM (activities/deletion/veeam-once.ts). Fast deletions finish before a
    // second heartbeat is due, so this costs few extra heartbeats.
    maxHeartbeatThrottleInterval: MAX_HEARTBEAT_THROTTLE_MS,
    ...params.tuning,
  });
  const running = worker.run().finally(async () => {
    instrumentation.close();
    await notify.close();
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
