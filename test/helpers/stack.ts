/**
 * A test stack: the provider simulator in-process on loopback, a worker on a task queue of its own,
 * and a client, all against the real Temporal dev server the test runner started
 * (TEMPORAL_ADDRESS). Account names get a unique suffix so tests running side by side never share a lane.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Simulator, type SimulatorOptions } from '../../simulator/server';
import { parseWorkerConfig, type LoadedConfig } from '../../worker/config';
import { startWorker, type StartedWorker } from '../../worker/worker';

export interface TestAccount {
  provider: 'vbs' | 'csbs' | 'taurusdb' | 'jsa' | 'veeam';
  /** Huawei project id / JSA console / Veeam appliance scope in the simulator. */
  scope?: string;
  limits?: Record<string, unknown>;
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

// Worker logs at ERROR (activity retries log at WARN) keep test output readable; failures still show.
Runtime.install({ logger: new DefaultLogger((process.env.RC_TEST_LOG_LEVEL as 'WARN' | undefined) ?? 'ERROR') });

export const TEST_CREDENTIAL_ENV = { RC_TEST_USER: 'sim-user', RC_TEST_PASSWORD: 'sim-password-not-a-real-secret' };

export function temporalAddress(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a) throw new Error('TEMPORAL_ADDRESS is not set: run the suite with `npm test`, which starts the Temporal dev server');
  return a;
}

/** Worker config for the given accounts, pointing at the simulator. */
export function configFor(simUrl: string, accounts: Record<string, TestAccount & { scope: string }>, names: (n: string) => string) {
  const out: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(accounts)) {
    const limits = { maxConcurrent: 20, requestsPerSecond: 1000, pollInterval: '100ms', deletionDeadline: '5m', maxAttempts: 20, requestTimeout: '5s', retryInitialInterval: '100ms', retryMaxInterval: '1s', ...a.limits };
    const creds = { username: { env: 'RC_TEST_USER' }, password: { env: 'RC_TEST_PASSWORD' } };
    if (a.provider === 'jsa') out[names(name)] = { provider: 'jsa', endpoint: `${simUrl}/jsa/${a.scope}`, credentials: { token: { env: 'RC_TEST_PASSWORD' } }, limits };
    else if (a.provider === 'veeam') out[names(name)] = { provider: 'veeam', endpoint: `${simUrl}/veeam/${a.scope}`, credentials: creds, limits };
    else
      out[names(name)] = {
        provider: a.provider,
        endpoint: `${simUrl}/${a.provider}`,
        iamEndpoint: `${simUrl}/iam`,
        projectId: a.scope,
        domain: 'sim-domain',
        credentials: creds,
        limits,
      };
  }
  return { taskQueue: 'unused', accounts: out };
}

export async function startStack(
  accounts: Record<string, TestAccount>,
  opts: { sim?: SimulatorOptions; worker?: boolean } = {},
): Promise<Stack> {
  Object.assign(process.env, TEST_CREDENTIAL_ENV);
  const suffix = randomUUID().slice(0, 8);
  const names = (n: string) => `${n}-${suffix}`;
  const withScopes = Object.fromEntries(
    Object.entries(accounts).map(([n, a]) => [n, { ...a, scope: a.scope ?? `proj-${n}-${suffix}` }]),
  );
  const sim = new Simulator(opts.sim);
  await sim.start();
  const configObject = configFor(sim.url, withScopes, names);
  const loaded = parseWorkerConfig(configObject, 'test config');
  const taskQueue = `test-${suffix}`;
  const connection = await Connection.connect({ address: temporalAddress() });
  const client = new Client({ connection });
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
      const w = await startWorker({ loaded, address: temporalAddress(), taskQueue, identity: `test-worker-${suffix}` });
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
