/**
 * A test stack: the provider simulator in-process on loopback, a worker on a task queue of its own,
 * and a client, all against the real Temporal dev server the test runner started
 * (TEMPORAL_ADDRESS). Account names get a unique suffix so tests running side by side never share a lane.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { SdkComponent } from '@temporalio/common';
import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { LevelLogger } from '../../worker/telemetry';
import { dataConverterFromEnv } from '../../codec/data-converter';
import { CSBS_MAX_CONCURRENT_DELETIONS } from '../../activities/providers/csbs';
import type { CsbsCheckpointItem } from '../../simulator/csbs';
import { Simulator, type SimulatorOptions } from '../../simulator/server';
import { parseWorkerConfig, type LoadedConfig } from '../../worker/config';
import { startWorker, type StartedWorker } from '../../worker/worker';

export interface TestAccount {
  provider: 'vbs' | 'csbs' | 'taurusdb' | 'jsa' | 'veeam';
  /** Huawei project id / JSA console / Veeam appliance scope in the simulator. */
  scope?: string;
  limits?: Record<string, unknown>;
  /** Replaces the default credential references (RC_TEST_USER / RC_TEST_PASSWORD). */
  credentials?: Record<string, unknown>;
  /** The account's `tls` block (caFile, insecureSkipVerify). */
  tls?: Record<string, unknown>;
  /** A Huawei account's `iamTls` block (insecureSkipVerify for the IAM endpoint). */
  iamTls?: Record<string, unknown>;
  /** The account's `requireApproval` (README, "Approving deletions"). */
  requireApproval?: boolean;
}

export interface Stack {
  sim: Simulator;
  client: Client;
  taskQueue: string;
  /** Test account name → real (suffixed) account name. */
  account(name: string): string;
  /** Simulator scope (project) of an account. */
  scope(name: string): string;
  loaded: LoadedConfig;
  configObject: Record<string, unknown>;
  worker?: StartedWorker;
  startWorker(): Promise<StartedWorker>;
  stop(): Promise<void>;
}

/** One line the worker's SDK or Temporal core logged, with its metadata rendered (errors included). */
export interface WorkerLogLine {
  level: LogLevel;
  message: string;
  meta?: LogMetadata;
  /** level, message and inspected metadata: what a log sink would have written. */
  text: string;
}

const workerLogListeners = new Set<(line: WorkerLogLine) => void>();

/**
 * The Runtime's logger: prints like before (SDK lines at RC_TEST_LOG_LEVEL, default ERROR; core lines
 * at WARN, as core's own console output did) and hands every line, at every level, to listeners.
 */
class TestLogger extends LevelLogger {
  private readonly printer = new DefaultLogger(
    (process.env.RC_TEST_LOG_LEVEL as 'WARN' | undefined) ?? 'ERROR',
  );
  private readonly corePrinter = new DefaultLogger('WARN');
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (workerLogListeners.size) {
      const line = {
        level,
        message,
        meta,
        text: `${level} ${message} ${meta ? inspect(meta, { depth: 8, breakLength: Infinity }) : ''}`,
      };
      for (const listener of workerLogListeners) listener(line);
    }
    (meta?.sdkComponent === SdkComponent.core ? this.corePrinter : this.printer).log(level, message, meta);
  }
}

// Runtime.install works once per process, so it happens here, at module load, for every test file.
// Worker logs at ERROR (activity retries log at WARN) keep test output readable; failures still show.
// Core's logs are forwarded to the same logger (same WARN filter as core's default) so they can be captured.
Runtime.install({
  logger: new TestLogger(),
  telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
});

/** Collects every worker log line (SDK and core, all levels the SDK emits) until stop(). */
export function captureWorkerLogs(): { lines: WorkerLogLine[]; stop(): void } {
  const lines: WorkerLogLine[] = [];
  const listener = (line: WorkerLogLine) => void lines.push(line);
  workerLogListeners.add(listener);
  return { lines, stop: () => void workerLogListeners.delete(listener) };
}

export const TEST_CREDENTIAL_ENV = {
  RC_TEST_USER: 'sim-user',
  RC_TEST_PASSWORD: 'sim-password-not-a-real-secret',
};

export function temporalAddress(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a)
    throw new Error(
      'TEMPORAL_ADDRESS is not set: run the suite with `npm test`, which starts the Temporal dev server',
    );
  return a;
}

/** Worker config for the given accounts, pointing at the simulator. */
export function configFor(
  simUrl: string,
  accounts: Record<string, TestAccount & { scope: string }>,
  names: (n: string) => string,
) {
  const out: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(accounts)) {
    const limits = {
      // CSBS accounts are refused above the provider's ceiling (5 deletion tasks per user).
      maxConcurrent: a.provider === 'csbs' ? CSBS_MAX_CONCURRENT_DELETIONS : 20,
      requestsPerSecond: 1000,
      pollInterval: '100ms',
      deletionDeadline: '5m',
      maxAttempts: 20,
      // Under the 30 s heartbeat timeout, and long enough that a loaded CI machine does not lose the
      // answer to an accepted delete (a lost answer makes the retry see the backup gone: absent).
      requestTimeout: '20s',
      retryInitialInterval: '100ms',
      retryMaxInterval: '1s',
      ...a.limits,
    };
    const creds = a.credentials ?? {
      username: { env: 'RC_TEST_USER' },
      password: { env: 'RC_TEST_PASSWORD' },
    };
    const tls = {
      ...(a.tls ? { tls: a.tls } : {}),
      ...(a.requireApproval !== undefined ? { requireApproval: a.requireApproval } : {}),
    };
    if (a.provider === 'jsa')
      out[names(name)] = {
        provider: 'jsa',
        endpoint: `${simUrl}/jsa/${a.scope}`,
        credentials: a.credentials ?? { token: { env: 'RC_TEST_PASSWORD' } },
        limits,
        ...tls,
      };
    else if (a.provider === 'veeam')
      out[names(name)] = {
        provider: 'veeam',
        endpoint: `${simUrl}/veeam/${a.scope}`,
        credentials: creds,
        limits,
        ...tls,
      };
    else
      out[names(name)] = {
        provider: a.provider,
        endpoint: `${simUrl}/${a.provider}`,
        iamEndpoint: `${simUrl}/iam`,
        projectId: a.scope,
        domain: 'sim-domain',
        credentials: creds,
        limits,
        ...tls,
        ...(a.iamTls ? { iamTls: a.iamTls } : {}),
      };
  }
  return { taskQueue: 'unused', accounts: out };
}

export async function startStack(
  accounts: Record<string, TestAccount>,
  opts: {
    sim?: SimulatorOptions;
    worker?: boolean;
    /** Extra top-level worker config fields, e.g. `secretsFile`. */
    config?: Record<string, unknown>;
  } = {},
): Promise<Stack> {
  Object.assign(process.env, TEST_CREDENTIAL_ENV);
  const suffix = randomUUID().slice(0, 8);
  const names = (n: string) => `${n}-${suffix}`;
  const withScopes = Object.fromEntries(
    Object.entries(accounts).map(([n, a]) => [n, { ...a, scope: a.scope ?? `proj-${n}-${suffix}` }]),
  );
  const sim = new Simulator(opts.sim);
  await sim.start();
  const configObject = { ...configFor(sim.url, withScopes, names), ...opts.config };
  const loaded = parseWorkerConfig(configObject, 'test config');
  const taskQueue = `test-${suffix}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  // Encrypts like the worker when the test set RETENTION_CODEC_KEYS (see codec/data-converter.ts).
  const client = new Client({ connection, dataConverter: dataConverterFromEnv() });
  const stack: Stack = {
    sim,
    client,
    taskQueue,
    loaded,
    configObject,
    account: (n) => {
      if (!withScopes[n]) throw new Error(`test account ${n} not defined`);
      return names(n);
    },
    scope: (n) => withScopes[n]!.scope,
    async startWorker() {
      const w = await startWorker({
        loaded,
        address: temporalAddress(),
        taskQueue,
        identity: `test-worker-${suffix}`,
      });
      stack.worker ??= w;
      return w;
    },
    async stop() {
      await stack.worker?.shutdown();
      await connection.close();
      await sim.stop();
    },
  };
  if (opts.worker !== false) await stack.startWorker();
  return stack;
}

/** VBS backups in the simulator's seed shape. */
export function vbsBackups(n: number, prefix = 'b', extra: Record<string, unknown> = {}) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(5, '0')}`,
    name: `nightly-${i}`,
    status: 'available',
    volume_id: `vol-${i % 10}`,
    created_at: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString().replace('Z', ''),
    ...extra,
  }));
}

/** CSBS checkpoint items in the simulator's seed shape: one checkpoint per prefix, servers srv-0..2. */
export function csbsItems(
  n: number,
  prefix: string,
  extra: Partial<CsbsCheckpointItem> = {},
): CsbsCheckpointItem[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, '0')}`,
    checkpoint_id: `cp-${prefix}`,
    resource_id: `srv-${i % 3}`,
    // Like 2017-04-18T01:21:52.701973: microseconds, no zone.
    created_at: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '.456789'),
    ...extra,
  }));
}

/** The request item for a CSBS checkpoint item (CSBS deletes by checkpoint and item id). */
export function csbsRef(account: string, b: CsbsCheckpointItem) {
  return { account, id: b.id, checkpointId: b.checkpoint_id };
}

/** A worker in a child process (`node --import tsx worker/main.ts`), for multi-process and crash tests. */
export interface WorkerProcess {
  child: ChildProcess;
  identity: string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** The last few KB of the process's stderr, for failure messages. */
  stderrTail(): string;
  /** SIGTERM (a clean shutdown), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * Starts a worker process on the stack's task queue with the stack's accounts, as an operator would:
 * config file + CLI flags; TEMPORAL_ADDRESS and RETENTION_WORKFLOW_BUNDLE are inherited from the test
 * runner, the simulator credentials come from TEST_CREDENTIAL_ENV. Resolves once it polls.
 */
export async function spawnWorkerProcess(
  stack: Stack,
  // args: extra worker flags (e.g. --metrics-port); env: extra environment (e.g. RETENTION_LOG_FORMAT).
  opts: { identity?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<WorkerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'rc-worker-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...stack.configObject, taskQueue: stack.taskQueue }));
  const identity = opts.identity ?? `child-worker-${randomUUID().slice(0, 8)}`;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'worker/main.ts',
      '--config',
      configFile,
      '--task-queue',
      stack.taskQueue,
      '--identity',
      identity,
      ...(opts.args ?? []),
    ],
    {
      cwd: resolve(__dirname, '../..'),
      env: { ...process.env, ...TEST_CREDENTIAL_ENV, ...opts.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let tail = '';
  const exited = new Promise<number | string>((r) =>
    child.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')),
  );
  const ready = new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker process ${identity} not ready after 90 s:\n${tail}`)),
      90_000,
    );
    child.stderr!.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-8000);
      if (tail.includes('worker ready on task queue')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker process ${identity} exited (${code}) before it was ready:\n${tail}`));
    });
  });
  const proc: WorkerProcess = {
    child,
    identity,
    exited,
    stderrTail: () => tail,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return proc;
}
