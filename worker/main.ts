/**
 * Worker process entry: `retention-cleanup worker --config FILE` (or `tsx worker/main.ts --config FILE`).
 * Temporal connection from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / profiles. Stops cleanly on
 * SIGINT/SIGTERM: running activities finish or are cancelled, nothing is lost (the server retries).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadWorkerConfig } from './config';
import { startWorker } from './worker';

export async function runWorkerProcess(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c', default: process.env.RETENTION_CONFIG },
      'task-queue': { type: 'string' },
      identity: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: retention-cleanup worker --config FILE [--task-queue NAME] [--identity NAME]\n\n' +
      'Runs a worker for the retention-cleanup workflows and the provider activities.\n' +
      'Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE.');
    return;
  }
  if (!values.config) throw new ConfigError('no config file: pass --config FILE or set RETENTION_CONFIG');
  const loaded = loadWorkerConfig(values.config);
  const started = await startWorker({ loaded, taskQueue: values['task-queue'], identity: values.identity });
  const stop = () => {
    void started.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.error(`worker ready on task queue "${values['task-queue'] ?? loaded.config.taskQueue}" with accounts ${Object.keys(loaded.config.accounts).join(', ')}`);
  await started.running;
}

if (require.main === module) {
  runWorkerProcess(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof ConfigError ? `config error: ${err.message}` : err);
    process.exit(1);
  });
}
