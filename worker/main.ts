/**
 * Worker process entry: `retention-cleanup worker --config FILE` (or `tsx worker/main.ts --config FILE`).
 * Temporal connection from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / profiles. Stops cleanly on
 * SIGINT/SIGTERM: running activities finish or are cancelled, nothing is lost (the server retries).
 */
import { parseArgs } from 'node:util';
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadWorkerConfig } from './config';
import { logAccountProbe } from './probe';
import { installTelemetry, telemetrySettings } from './telemetry';
import { startWorker } from './worker';

export async function runWorkerProcess(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: process.env.RETENTION_CONFIG },
      'task-queue': { type: 'string' },
      identity: { type: 'string' },
      // Prometheus endpoint (also RETENTION_METRICS_ADDRESS); see worker/telemetry.ts.
      'metrics-port': { type: 'string' },
      'metrics-address': { type: 'string' },
      // Workflow cache size (also RETENTION_MAX_CACHED_WORKFLOWS); the SDK otherwise derives it from the heap limit.
      'max-cached-workflows': { type: 'string', default: process.env.RETENTION_MAX_CACHED_WORKFLOWS },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: retention-cleanup worker --config FILE [--task-queue NAME] [--identity NAME] [--metrics-port N | --metrics-address HOST:PORT] [--max-cached-workflows N]\n\n' +
        'Runs a worker for the retention-cleanup workflows and the provider activities.\n' +
        'Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.\n' +
        'Metrics: --metrics-port N serves Prometheus metrics on 0.0.0.0:N/metrics (or RETENTION_METRICS_ADDRESS=HOST:PORT).\n' +
        'Logs: RETENTION_LOG_FORMAT=json for JSON lines on stderr; RETENTION_LOG_LEVEL (default INFO).\n' +
        'Workflow cache: --max-cached-workflows N (or RETENTION_MAX_CACHED_WORKFLOWS); default derived from the heap limit.',
    );
    return;
  }
  const maxCached = values['max-cached-workflows'];
  if (maxCached !== undefined && !/^\d+$/.test(maxCached))
    throw new ConfigError(
      `--max-cached-workflows (or RETENTION_MAX_CACHED_WORKFLOWS): expected a whole number of workflows, got ${JSON.stringify(maxCached)}`,
    );
  if (!values.config) throw new ConfigError('no config file: pass --config FILE or set RETENTION_CONFIG');
  const loaded = loadWorkerConfig(values.config);
  // Once per process, before the first connection: the runtime's logger and Prometheus endpoint.
  const telemetry = telemetrySettings({
    metricsPort: values['metrics-port'],
    metricsAddress: values['metrics-address'],
  });
  installTelemetry(telemetry);
  const started = await startWorker({
    loaded,
    taskQueue: values['task-queue'],
    identity: values.identity,
    ...(maxCached !== undefined ? { tuning: { maxCachedWorkflows: Number(maxCached) } } : {}),
  });
  const stop = () => {
    void started.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const ready = `worker ready on task queue "${values['task-queue'] ?? loaded.config.taskQueue}" with accounts ${Object.keys(loaded.config.accounts).join(', ')}`;
  // In JSON mode every stderr line is JSON; the text keeps "worker ready on task queue" either way.
  if (telemetry.logFormat === 'json')
    Runtime.instance().logger.info(ready, { metricsAddress: telemetry.metricsAddress });
  else
    console.error(
      `${ready}${telemetry.metricsAddress ? `; metrics on http://${telemetry.metricsAddress}/metrics` : ''}`,
    );
  // Each account's address and credentials, checked once and logged (INFO when OK, WARN otherwise). The
  // worker runs either way: a provider may be down for a moment (docs/operations.md, "Start-up probe").
  void logAccountProbe(loaded, Runtime.instance().logger);
  await started.running;
}

if (require.main === module) {
  runWorkerProcess(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof ConfigError ? `config error: ${err.message}` : err);
    process.exit(1);
  });
}
