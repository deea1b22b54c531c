import { defineCommand, type OptionSpecs } from '../command';
import { CONNECTION_OPTIONS } from '../connect';
import { EXIT } from '../errors';
import { lazy } from '../io';

/** The options worker/main.ts reads; the CLI hands them over as given. */
const WORKER_OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    value: 'FILE',
    help: 'the worker config (accounts, limits); default $RETENTION_CONFIG',
  },
  'task-queue': { type: 'string', value: 'NAME', help: "task queue (default: the config's taskQueue)" },
  identity: {
    type: 'string',
    value: 'NAME',
    help: 'shown in the Web UI next to each activity (default pid@host)',
  },
  'metrics-port': {
    type: 'string',
    value: 'N',
    help: 'serve Prometheus metrics on 0.0.0.0:N/metrics',
  },
  'metrics-address': {
    type: 'string',
    value: 'HOST:PORT',
    help: 'serve them on HOST:PORT (or RETENTION_METRICS_ADDRESS)',
  },
  'max-cached-workflows': {
    type: 'string',
    value: 'N',
    help: 'workflow cache size (or RETENTION_MAX_CACHED_WORKFLOWS);\ndefault derived from the heap limit',
  },
} as const satisfies OptionSpecs;

export const worker = defineCommand({
  name: 'worker',
  summary: 'run a worker (workflows and provider activities)',
  description: `Runs a worker for the retention-cleanup workflows and provider activities until SIGINT/SIGTERM.
Logs: RETENTION_LOG_FORMAT=json for JSON lines on stderr; RETENTION_LOG_LEVEL (default INFO).`,
  options: {
    ...WORKER_OPTIONS,
    address: CONNECTION_OPTIONS.address,
    namespace: CONNECTION_OPTIONS.namespace,
  },
  async run({ values }) {
    // --address / --namespace reach the worker through Temporal's environment conventions.
    if (values.address !== undefined) process.env.TEMPORAL_ADDRESS = values.address;
    if (values.namespace !== undefined) process.env.TEMPORAL_NAMESPACE = values.namespace;
    const argv = Object.keys(WORKER_OPTIONS).flatMap((name) => {
      const value = values[name as keyof typeof WORKER_OPTIONS];
      return value === undefined ? [] : [`--${name}=${value}`];
    });
    const { runWorkerProcess } = lazy<typeof import('../../../worker/main')>('worker/main');
    await runWorkerProcess(argv);
    return EXIT.OK;
  },
});
