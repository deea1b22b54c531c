/**
 * The chaos run (`npm run chaos`; a reduced version in test/chaos.test.ts): promise 1 (exactly one
 * outcome per item, none lost), promise 2 (account limits) and promise 3 (no repeated non-idempotent
 * call) under everything at once:
 *
 *  - its OWN Temporal dev server with a persistent SQLite file in a temp dir (search attributes
 *    registered by DevServer), the provider simulator in this process, the product's worker as a CHILD
 *    process (`worker/main.ts`, as an operator runs it) so it can be SIGKILLed;
 *  - N items (default 2,000) over at least 10 accounts covering all five providers, with a few items
 *    already gone (→ absent) and a few the provider refuses (→ blocked), plus backups NOT in the
 *    request (they must see no delete call and survive);
 *  - faults on every provider request: 20% transient 5xx (500/502/503/504), 5% 429 with Retry-After,
 *    latency jitter;
 *  - during the run, at given fractions of the deletions accepted by the simulator: SIGKILL of the
 *    worker (a new worker process is started at once, as a process supervisor would), and a SIGKILL of
 *    the dev server restarted on the same port and SQLite file (the worker keeps running and
 *    reconnects; the client reconnects).
 *
 * Then it reads the run's per-item report and the simulator's counters and checks: every requested
 * item exactly once with a valid outcome (none lost, none extra), outcomes true to the provider's state,
 * no delete call on a backup outside the request, no backup accepted for deletion twice (Veeam: no
 * second session per VM), and each account's observed maximum concurrency within its limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { RetentionClient } from '../client/retention-client';
import { assertPortFree, DevServer, freePort } from '../scripts/dev-server';
import type { FaultRule } from '../simulator/faults';
import { quietLogger } from '../scripts/quiet-logger';
import { Simulator } from '../simulator/server';
import type { VeeamVm } from '../simulator/veeam';
import type { RunSummary } from '../contract/messages';
import {
  itemKey,
  OUTCOMES,
  type ItemOutcome,
  type ItemRef,
  type OutcomeKind,
  type ProviderKind,
} from '../contract/model';
import { interleaveByAccount } from '../workflows/batch-planning';
import { FAILURE } from '../contract/failure-types';
import { CANCEL_ALLOWANCE_S, Misuse, type MisuseFigures } from './chaos-misuse';
import { writeFormattedDoc } from './write-doc';

const ROOT = resolve(__dirname, '..');
const CREDENTIALS = {
  CHAOS_HUAWEI_USER: 'chaos-user',
  CHAOS_HUAWEI_PASSWORD: 'chaos-password-simulator-only',
  CHAOS_JSA_TOKEN: 'chaos-sec-token-simulator-only',
};

/** The accounts, in order; `accounts: n` takes the first n (cycling with a new index past 12). */
const ACCOUNT_TEMPLATES: { provider: ProviderKind; limit: number }[] = [
  { provider: 'csbs', limit: 5 },
  { provider: 'vbs', limit: 3 },
  { provider: 'taurusdb', limit: 4 },
  { provider: 'jsa', limit: 3 },
  { provider: 'veeam', limit: 4 },
  { provider: 'csbs', limit: 5 },
  { provider: 'vbs', limit: 8 },
  { provider: 'taurusdb', limit: 6 },
  { provider: 'jsa', limit: 5 },
  { provider: 'veeam', limit: 10 },
  { provider: 'vbs', limit: 6 },
  { provider: 'csbs', limit: 5 },
];

export interface ChaosOptions {
  /** Items in the request (default 2,000), absent and blocked ones included. */
  items?: number;
  /** Accounts (at least 10 so all five providers appear twice; default 12). */
  accounts?: number;
  /** Fractions of the deletions accepted at which the worker is SIGKILLed (default 0.2, 0.45, 0.7). */
  workerKillsAt?: number[];
  /** Fractions at which the dev server is SIGKILLed and restarted (default 0.55). */
  serverRestartsAt?: number[];
  /** How long the dev server stays down before it is restarted (default 2 s). */
  serverDownMs?: number;
  /** Simulated deletion time per backup (default 400 ms). */
  deleteMs?: number;
  /** Effective rates of injected faults over all provider requests. */
  faults?: { transient5xx?: number; throttled429?: number; latencyJitterMs?: number };
  /** The whole run must finish within this (default 20 min). */
  timeoutMs?: number;
  /** Seed of the simulator's fault dice. */
  seed?: number;
  log?: (msg: string) => void;
}

export interface ChaosEvent {
  kind: 'worker SIGKILL' | 'dev server SIGKILL + restart';
  /** The planned fraction of deletions accepted. */
  plannedAt: number;
  /** Fraction of deletions accepted when it happened. */
  progress: number;
  /** Seconds since the run started. */
  atS: number;
  /** Seconds until the replacement was up (new worker ready / server answering). */
  recoveryS: number;
  /** Deletions in progress at the simulator from the event until the recovery. */
  inFlight: number;
}

export interface AccountFigures {
  account: string;
  provider: ProviderKind;
  items: number;
  limit: number;
  observedMaxConcurrent: number;
}

export interface ChaosResult {
  ok: boolean;
  /** Every assertion that failed, in words. Empty when ok. */
  failures: string[];
  workflowId: string;
  items: number;
  accounts: number;
  providers: ProviderKind[];
  wallS: number;
  runS: number;
  counts: Record<OutcomeKind, number>;
  summaryCounts?: Record<OutcomeKind, number>;
  exactlyOnce: number;
  lost: number;
  duplicateOutcomes: number;
  unrequestedOutcomes: number;
  invalidOutcomes: number;
  deleteCallsOutsideRequest: number;
  acceptedTwice: number;
  /**
   * Delete requests for a backup after its deletion was accepted (any answer: busy, 404, accepted again):
   * the repeats the simulator saw (simulator/delete-requests.ts).
   */
  repeats: number;
  /** The bound on them: deletions in progress during each chaos event (from its start to recovery), summed. */
  repeatBound: number;
  /** Over every run, the twin's included. */
  veeamVmsWithSecondSession: number;
  /** The twin run and the run cancelled through Temporal (bench/chaos-misuse.ts). */
  misuse: MisuseFigures;
  notRequestedSurvivors: number;
  notRequested: number;
  untruthfulOutcomes: number;
  /**
   * Issue 13 ("Outcome accuracy"), each asserted 0: deleted by this run (the simulator accepted its
   * delete) but reported absent (an acknowledgement lost in a crash); reported failed although our
   * delete was accepted and the backup is gone; Veeam items left for a manual check (UnansweredRequest).
   */
  deletedReportedAbsent: number;
  /**
   * Not counted above: `absent` answered from the lane's ledger because another run (the twin) had the
   * backup deleted first (workflows/lane/ledger.ts, "already deleted when run X asked"): the accepted
   * delete was that run's, not this one's.
   */
  absentByAnotherRun: number;
  failedButDeleted: number;
  veeamManualChecks: number;
  /** The items behind the three figures above, `key: outcome (reason)`, for the failure message. */
  accuracyExamples: string[];
  failedReasons: Record<string, number>;
  skippedReasons: Record<string, number>;
  perAccount: AccountFigures[];
  events: ChaosEvent[];
  unexpectedWorkerExits: string[];
  workerProcesses: number;
  clientErrorsWhileWaiting: number;
  faultHits: Record<string, number>;
  providerRequests: number;
  machine: string;
  startedAt: string;
  options: Required<Omit<ChaosOptions, 'log' | 'faults'>> & {
    faults: Required<NonNullable<ChaosOptions['faults']>>;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The reason of an item the lane's ledger answered because another run deleted it (workflows/lane/ledger.ts). */
const ANOTHER_RUN = /^already (deleted|gone) when run \S+ asked for it/;

// ---------------------------------------------------------------------------------------------------
// The world: accounts, seeded backups, the request and what each item should end as.

interface PlannedAccount {
  name: string;
  provider: ProviderKind;
  scope: string;
  limit: number;
  items: number;
}

type Expectation = 'deletable' | 'gone' | 'blocked';

interface World {
  accounts: PlannedAccount[];
  items: ItemRef[];
  /** itemKey → simulator key (`provider:scope:id`) and what the item is. */
  expected: Map<
    string,
    { simKey: string; provider: ProviderKind; scope: string; id: string; kind: Expectation }
  >;
  /** Simulator keys of backups seeded but NOT requested. */
  notRequested: { provider: ProviderKind; scope: string; id: string; simKey: string }[];
  deletable: number;
}

function planAccounts(n: number, total: number, suffix: string): PlannedAccount[] {
  const chosen = Array.from({ length: n }, (_, i) => ({
    ...ACCOUNT_TEMPLATES[i % ACCOUNT_TEMPLATES.length]!,
    i,
  }));
  const sumLimits = chosen.reduce((s, a) => s + a.limit, 0);
  // Items in proportion to the limits, so every account finishes at about the same time.
  const counts = chosen.map((a) => Math.floor((total * a.limit) / sumLimits));
  for (let k = 0; counts.reduce((s, c) => s + c, 0) < total; k++) counts[k % n]!++;
  return chosen.map((a, i) => {
    const name = `chaos-${a.provider}-${String(a.i).padStart(2, '0')}`;
    return { name, provider: a.provider, limit: a.limit, scope: `${name}-${suffix}`, items: counts[i]! };
  });
}

const DAY = 86_400_000;
const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');
const pad = (i: number) => String(i).padStart(4, '0');

/** Seeds one account: requested deletable and blocked backups, backups not requested; returns the request items. */
function seedAccount(sim: Simulator, a: PlannedAccount, world: World, now: number): void {
  const gone = Math.max(1, Math.round(a.items * 0.01));
  const blockable = a.provider === 'vbs' || a.provider === 'taurusdb' || a.provider === 'csbs';
  const blocked = blockable ? Math.max(1, Math.round(a.items * 0.01)) : 0;
  const deletable = a.items - gone - blocked;
  const notRequested = 3;
  const kinds: Expectation[] = [
    ...Array<Expectation>(deletable).fill('deletable'),
    ...Array<Expectation>(blocked).fill('blocked'),
  ];
  const add = (id: string, kind: Expectation, checkpointId?: string) => {
    const item: ItemRef = { account: a.name, id, ...(checkpointId ? { checkpointId } : {}) };
    world.items.push(item);
    world.expected.set(itemKey(item), {
      simKey: `${a.provider}:${a.scope}:${id}`,
      provider: a.provider,
      scope: a.scope,
      id,
      kind,
    });
    if (kind === 'deletable') world.deletable++;
  };
  const extra = (id: string) =>
    world.notRequested.push({
      provider: a.provider,
      scope: a.scope,
      id,
      simKey: `${a.provider}:${a.scope}:${id}`,
    });

  switch (a.provider) {
    case 'vbs': {
      const shape = (id: string, i: number, sim?: object) => ({
        id,
        name: `nightly-${i}`,
        status: 'available',
        volume_id: `vol-${i % 7}`,
        created_at: noZone(now - (i + 30) * DAY),
        ...(sim ? { sim } : {}),
      });
      const seeded = kinds.map((k, i) =>
        shape(`vbs-${pad(i)}`, i, k === 'blocked' ? { usedForImage: true } : undefined),
      );
      const extras = Array.from({ length: notRequested }, (_, j) => shape(`vbs-keep-${j}`, j));
      sim.seed('vbs', a.scope, [...seeded, ...extras]);
      seeded.forEach((b, i) => add(b.id, kinds[i]!));
      extras.forEach((b) => extra(b.id));
      for (let j = 0; j < gone; j++) add(`vbs-gone-${j}`, 'gone');
      break;
    }
    case 'csbs': {
      // Four items per checkpoint; the backups not requested share checkpoints with requested ones, so a
      // delete without `checkpoint_items` (the whole checkpoint) would show.
      const shape = (id: string, i: number, checkpoint: number, sim?: object) => ({
        id,
        checkpoint_id: `cp-${pad(checkpoint)}`,
        name: `server-backup-${i}`,
        status: 'available',
        resource_id: `server-${i % 5}`,
        resource_type: 'OS::Nova::Server',
        created_at: noZone(now - (i + 40) * DAY),
        ...(sim ? { sim } : {}),
      });
      const seeded = kinds.map((k, i) =>
        shape(
          `csbs-${pad(i)}`,
          i,
          Math.floor(i / 4),
          k === 'blocked' ? { registeredAsImage: true } : undefined,
        ),
      );
      const extras = Array.from({ length: notRequested }, (_, j) => shape(`csbs-keep-${j}`, j, j));
      sim.seed('csbs', a.scope, [...seeded, ...extras]);
      seeded.forEach((b, i) => add(b.id, kinds[i]!, b.checkpoint_id));
      extras.forEach((b) => extra(b.id));
      for (let j = 0; j < gone; j++) add(`csbs-gone-${j}`, 'gone', 'cp-gone');
      break;
    }
    case 'taurusdb': {
      const shape = (id: string, i: number, type: string) => ({
        id,
        name: `manual-${i}`,
        begin_time: new Date(now - (i + 35) * DAY).toISOString().replace(/\.\d+Z$/, '+0000'),
        status: 'COMPLETED',
        // Automated backups are refused by TaurusDB: blocked.
        type,
        instance_id: `instance-${i % 3}`,
      });
      const seeded = kinds.map((k, i) => shape(`taurus-${pad(i)}`, i, k === 'blocked' ? 'auto' : 'manual'));
      const extras = Array.from({ length: notRequested }, (_, j) => shape(`taurus-keep-${j}`, j, 'manual'));
      sim.seed('taurusdb', a.scope, [...seeded, ...extras]);
      seeded.forEach((b, i) => add(b.id, kinds[i]!));
      extras.forEach((b) => extra(b.id));
      for (let j = 0; j < gone; j++) add(`taurus-gone-${j}`, 'gone');
      break;
    }
    case 'jsa': {
      const shape = (id: number, i: number) => ({
        id,
        name: `nightly-config-${i}`,
        type: 'CONFIG' as const,
        status: 'SUCCESS',
        host_id: 53,
        time_initiated: now - (i + 60) * DAY,
        time_completed: now - (i + 60) * DAY + 600_000,
      });
      const seeded = kinds.map((_, i) => shape(10_000 + i, i));
      const extras = Array.from({ length: notRequested }, (_, j) => shape(90_000 + j, j));
      sim.seed('jsa', a.scope, [...seeded, ...extras]);
      seeded.forEach((b, i) => add(String(b.id), kinds[i]!));
      extras.forEach((b) => extra(String(b.id)));
      for (let j = 0; j < gone; j++) add(String(80_000 + j), 'gone');
      break;
    }
    case 'veeam': {
      // Veeam v1 deletes per VM: an item is a VM, deleting it removes all its restore points.
      const shape = (id: string, i: number): VeeamVm => ({
        id,
        name: `retired-vm-${i}`,
        restorePoints: Array.from({ length: 2 }, (_, j) => ({
          id: `${id}-rp-${j}`,
          pointInTime: new Date(now - (i * 2 + j + 90) * DAY).toISOString(),
          backupSizeBytes: 5 * 1024 ** 3,
        })),
      });
      const seeded = kinds.map((_, i) => shape(`vm-${pad(i)}`, i));
      const extras = Array.from({ length: notRequested }, (_, j) => shape(`vm-keep-${j}`, j));
      sim.seed('veeam', a.scope, [...seeded, ...extras]);
      seeded.forEach((b, i) => add(b.id, kinds[i]!));
      extras.forEach((b) => extra(b.id));
      for (let j = 0; j < gone; j++) add(`vm-gone-${j}`, 'gone');
      break;
    }
  }
}

function buildWorld(sim: Simulator, accounts: PlannedAccount[]): World {
  const world: World = { accounts, items: [], expected: new Map(), notRequested: [], deletable: 0 };
  const now = Date.now();
  for (const a of accounts) seedAccount(sim, a, world, now);
  world.items = interleaveByAccount(world.items);
  return world;
}

/** Ids of the backups that still exist (Veeam: VMs that still have restore points). */
function survivors(sim: Simulator, provider: ProviderKind, scope: string): Set<string> {
  const listed = sim.provider(provider).list(scope) as Array<{
    id: string | number;
    restorePoints?: unknown[];
  }>;
  return new Set(
    listed.filter((b) => provider !== 'veeam' || (b.restorePoints?.length ?? 0) > 0).map((b) => String(b.id)),
  );
}

function workerConfig(simUrl: string, accounts: PlannedAccount[], taskQueue: string) {
  const limits = (limit: number) => ({
    maxConcurrent: limit,
    requestsPerSecond: 200,
    pollInterval: '150ms',
    // Long: chaos must not turn an item into `failed` by the clock.
    deletionDeadline: '30m',
    maxAttempts: 20,
    retryInitialInterval: '200ms',
    retryMaxInterval: '2s',
    requestTimeout: '15s',
  });
  const huawei = { username: { env: 'CHAOS_HUAWEI_USER' }, password: { env: 'CHAOS_HUAWEI_PASSWORD' } };
  const out: Record<string, unknown> = {};
  for (const a of accounts) {
    if (a.provider === 'jsa')
      out[a.name] = {
        provider: 'jsa',
        endpoint: `${simUrl}/jsa/${a.scope}`,
        credentials: { token: { env: 'CHAOS_JSA_TOKEN' } },
        limits: limits(a.limit),
      };
    else if (a.provider === 'veeam')
      out[a.name] = {
        provider: 'veeam',
        endpoint: `${simUrl}/veeam/${a.scope}`,
        credentials: huawei,
        limits: limits(a.limit),
      };
    else
      out[a.name] = {
        provider: a.provider,
        endpoint: `${simUrl}/${a.provider}`,
        iamEndpoint: `${simUrl}/iam`,
        projectId: a.scope,
        domain: 'chaos-domain',
        credentials: huawei,
        limits: limits(a.limit),
      };
  }
  return { taskQueue, accounts: out };
}

/**
 * Fault rules whose EFFECTIVE rates over all requests are as asked: the simulator checks rules in order
 * and the first hit answers, so each rule's rate is conditional on the earlier ones missing.
 */
export function chaosFaultRules(f: {
  transient5xx: number;
  throttled429: number;
  latencyJitterMs: number;
}): FaultRule[] {
  const rules: FaultRule[] = [];
  if (f.latencyJitterMs > 0)
    rules.push({ rate: 1, fault: { kind: 'latency', ms: 0, jitterMs: f.latencyJitterMs } });
  let left = 1;
  const add = (effective: number, fault: FaultRule['fault']) => {
    if (effective <= 0) return;
    rules.push({ rate: Math.min(1, effective / left), fault });
    left -= effective;
  };
  add(f.throttled429, { kind: 'status', status: 429, retryAfter: '1' });
  for (const status of [500, 502, 503, 504]) add(f.transient5xx / 4, { kind: 'status', status });
  return rules;
}

// ---------------------------------------------------------------------------------------------------
// Processes: worker children under a small supervisor, the dev server.

interface WorkerProc {
  child: ChildProcess;
  identity: string;
  exited: Promise<string>;
  killedOnPurpose: boolean;
  tail(): string;
}

class WorkerSupervisor {
  current?: WorkerProc;
  readonly all: WorkerProc[] = [];
  readonly unexpectedExits: string[] = [];
  private stopping = false;
  private starting?: Promise<void>;

  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (m: string) => void,
  ) {}

  private spawnOne(): Promise<void> {
    const identity = `chaos-worker-${this.all.length + 1}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'worker/main.ts', ...this.args, '--identity', identity],
      {
        cwd: ROOT,
        env: this.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let tail = '';
    const exited = new Promise<string>((r) =>
      child.once('exit', (code, signal) => r(String(signal ?? code))),
    );
    const w: WorkerProc = { child, identity, exited, killedOnPurpose: false, tail: () => tail };
    this.all.push(w);
    this.current = w;
    void exited.then((how) => {
      if (w.killedOnPurpose || this.stopping) return;
      // A worker that dies on its own (e.g. while the server is down) is restarted, as a supervisor would.
      this.unexpectedExits.push(
        `${identity} exited (${how}): ${tail.trim().split('\n').slice(-3).join(' | ')}`,
      );
      this.log(`${identity} exited on its own (${how}); starting another`);
      if (this.current === w) void this.ensure();
    });
    return new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${identity} not ready after 120 s:\n${tail}`)), 120_000);
      child.stderr!.on('data', (d: Buffer) => {
        tail = (tail + d.toString()).slice(-8000);
        if (tail.includes('worker ready on task queue')) {
          clearTimeout(timer);
          ok();
        }
      });
      void exited.then((how) => {
        clearTimeout(timer);
        fail(new Error(`${identity} exited (${how}) before it was ready:\n${tail}`));
      });
    });
  }

  /** Starts a worker unless one is running or starting. */
  async ensure(): Promise<void> {
    if (this.stopping) return;
    if (this.starting) return this.starting;
    const c = this.current;
    if (c && c.child.exitCode === null && c.child.signalCode === null) return;
    this.starting = this.spawnOne().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** SIGKILL, as a crash would; then a new worker. Resolves once the new one polls. */
  async killAndReplace(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const w = this.current;
    if (w && w.child.exitCode === null && w.child.signalCode === null) {
      w.killedOnPurpose = true;
      w.child.kill('SIGKILL');
      await w.exited;
    }
    await this.ensure();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.starting?.catch(() => undefined);
    for (const w of this.all) {
      if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
      w.child.kill('SIGTERM');
      const t = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
      await w.exited;
      clearTimeout(t);
    }
  }

  diagnostics(): string {
    return this.all
      .map(
        (w) =>
          `--- ${w.identity} (${String(w.child.signalCode ?? w.child.exitCode ?? 'running')}):\n${w.tail().slice(-1500)}`,
      )
      .join('\n');
  }
}

async function waitPortFree(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertPortFree(port, 'Temporal gRPC');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

// ---------------------------------------------------------------------------------------------------

export async function runChaos(opts: ChaosOptions = {}): Promise<ChaosResult> {
  const o = {
    items: opts.items ?? 2_000,
    accounts: opts.accounts ?? 12,
    workerKillsAt: opts.workerKillsAt ?? [0.2, 0.45, 0.7],
    serverRestartsAt: opts.serverRestartsAt ?? [0.55],
    serverDownMs: opts.serverDownMs ?? 2_000,
    deleteMs: opts.deleteMs ?? 400,
    timeoutMs: opts.timeoutMs ?? 20 * 60_000,
    seed: opts.seed ?? 7,
    faults: {
      transient5xx: opts.faults?.transient5xx ?? 0.2,
      throttled429: opts.faults?.throttled429 ?? 0.05,
      latencyJitterMs: opts.faults?.latencyJitterMs ?? 150,
    },
  };
  const log = opts.log ?? (() => undefined);
  if (o.accounts < 10)
    throw new Error('the chaos run needs at least 10 accounts (all five providers, twice)');
  if (o.items < o.accounts * 5) throw new Error(`at least 5 items per account: ${o.accounts * 5} items`);
  const startedAt = new Date().toISOString();
  const machine = `${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at start`;
  const t0 = performance.now();
  const failures: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const dir = mkdtempSync(join(tmpdir(), 'rc-chaos-'));
  const suffix = randomUUID().slice(0, 8);
  let keepDir = false;

  try {
    // ---- Temporal dev server on a fixed port with a persistent SQLite file ----
    const port = await freePort();
    const dbFile = join(dir, 'temporal.db');
    const server = new DevServer({ port, headless: true, dbFile, log });
    await server.start();
    cleanups.push(() => server.stop());
    log(`Temporal dev server at ${server.address}, SQLite ${dbFile}`);

    // The workflow bundle once (the test runner's when there is one), so a new worker starts in seconds.
    let bundlePath = process.env.RETENTION_WORKFLOW_BUNDLE;
    if (!bundlePath || !existsSync(bundlePath)) {
      const outDir = join(ROOT, '.data', 'chaos');
      mkdirSync(outDir, { recursive: true });
      bundlePath = join(outDir, 'workflow-bundle.js');
      const { code } = await bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows'),
        logger: quietLogger,
      });
      writeFileSync(bundlePath, code);
    }

    // ---- simulator and the world ----
    const sim = new Simulator({
      seed: o.seed,
      timings: {
        deleteMs: {
          vbs: o.deleteMs,
          csbs: o.deleteMs,
          taurusdb: o.deleteMs,
          jsa: o.deleteMs,
          veeam: o.deleteMs,
        },
      },
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    const accounts = planAccounts(o.accounts, o.items, suffix);
    const world = buildWorld(sim, accounts);
    const providers = [...new Set(accounts.map((a) => a.provider))].sort();
    const misuse = new Misuse(
      sim,
      {
        veeamItems: world.items.filter((i) => {
          const e = world.expected.get(itemKey(i))!;
          return e.provider === 'veeam' && e.kind === 'deletable';
        }),
      },
      suffix,
    );
    // When each deletion was accepted (ms since the run started), to tell which chaos event a repeated
    // acceptance followed.
    const acceptedAt = new Map<string, number[]>();
    let runStartedAt = performance.now();
    const counters = sim.ctx.counters;
    const bump = counters.bump.bind(counters);
    counters.bump = (map, key, by) => {
      if (map === counters.acceptedDeletes)
        acceptedAt.set(key, [...(acceptedAt.get(key) ?? []), (performance.now() - runStartedAt) / 1000]);
      bump(map, key, by);
    };
    log(
      `${world.items.length} items over ${accounts.length} accounts (${providers.join(', ')}); ` +
        `${world.deletable} deletable, ${world.notRequested.length} backups not in the request`,
    );

    // ---- worker processes ----
    const taskQueue = `chaos-${suffix}`;
    const configFile = join(dir, 'worker.json');
    writeFileSync(
      configFile,
      JSON.stringify(workerConfig(sim.url, [...accounts, misuse.account], taskQueue)),
    );
    const supervisor = new WorkerSupervisor(
      ['--config', configFile, '--task-queue', taskQueue],
      {
        ...process.env,
        ...CREDENTIALS,
        TEMPORAL_ADDRESS: server.address,
        RETENTION_WORKFLOW_BUNDLE: bundlePath,
      },
      log,
    );
    cleanups.push(() => supervisor.stop());
    await supervisor.ensure();
    log(`worker ${supervisor.current!.identity} ready on ${taskQueue}`);

    // ---- the run ----
    const rc = await RetentionClient.connect({ address: server.address, taskQueue });
    cleanups.push(() => rc.close());
    sim.setFaults(chaosFaultRules(o.faults), o.seed);
    const workflowId = `chaos-${suffix}`;
    const runT0 = performance.now();
    runStartedAt = runT0;
    await rc.start(
      { items: world.items, dryRun: false, label: 'chaos run' },
      { workflowId, startedBy: 'chaos' },
    );
    const sinceRun = () => (performance.now() - runT0) / 1000;
    log(`run ${workflowId} started with dryRun false`);
    await misuse.start(rc, suffix);
    log(`misuse: twin run and a run to cancel through Temporal started (${misuse.runs.join(', ')})`);

    const accepted = () => {
      const a = sim.ctx.counters.acceptedDeletes;
      let n = 0;
      for (const v of world.expected.values()) if (v.kind === 'deletable' && a.has(v.simKey)) n++;
      return n / Math.max(1, world.deletable);
    };

    // Wait for the run to close, tolerating a server that is away (the client reconnects).
    let closed: { status: string } | undefined;
    let clientErrors = 0;
    const deadline = Date.now() + o.timeoutMs;
    const closedP = (async () => {
      for (;;) {
        try {
          const d = await rc.handle(workflowId).describe();
          if (d.status.name !== 'RUNNING' && d.status.name !== 'CONTINUED_AS_NEW')
            return (closed = { status: d.status.name });
        } catch {
          clientErrors++;
        }
        if (Date.now() > deadline) return (closed = { status: 'TIMED OUT (chaos harness)' });
        await sleep(1000);
      }
    })();

    // Progress line now and then.
    const ticker = setInterval(
      () =>
        log(`progress: ${(accepted() * 100).toFixed(0)}% of deletions accepted, ${sinceRun().toFixed(0)} s`),
      15_000,
    );
    cleanups.push(async () => clearInterval(ticker));

    const cancelled = misuse.cancelWhenStarted(
      sinceRun,
      () => !!closed,
      async (id) => void (await retry(() => rc.handle(id).cancel())),
    );

    // ---- chaos ----
    const plan = [
      ...o.workerKillsAt.map((at) => ({ at, kind: 'worker SIGKILL' as const })),
      ...o.serverRestartsAt.map((at) => ({ at, kind: 'dev server SIGKILL + restart' as const })),
    ].sort((a, b) => a.at - b.at);
    const events: ChaosEvent[] = [];
    for (const step of plan) {
      while (!closed && accepted() < step.at) await sleep(50);
      if (closed) {
        failures.push(
          `chaos event "${step.kind}" planned at ${step.at * 100}% never happened: the run ended first`,
        );
        continue;
      }
      const progress = accepted();
      const atS = sinceRun();
      const t = performance.now();
      const eventFrom = Date.now();
      if (step.kind === 'worker SIGKILL') {
        const killed = supervisor.current?.identity;
        await supervisor.killAndReplace();
        log(
          `SIGKILL ${killed} at ${(progress * 100).toFixed(0)}%; ${supervisor.current!.identity} ready after ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      } else {
        server.kill();
        await waitPortFree(port, 30_000);
        await sleep(o.serverDownMs);
        await server.start();
        log(
          `dev server SIGKILLed at ${(progress * 100).toFixed(0)}% and restarted on ${server.address} (same SQLite) after ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      }
      // Deletions in progress from the event to the recovery: whose acceptance the product may not have
      // recorded, so each may be sent once more. No other repeat is allowed.
      const inFlight = sim.ctx.counters.inProgressDuring(eventFrom, Date.now());
      events.push({
        kind: step.kind,
        plannedAt: step.at,
        progress,
        atS,
        recoveryS: (performance.now() - t) / 1000,
        inFlight,
      });
    }

    await closedP;
    clearInterval(ticker);
    const runS = sinceRun();
    await cancelled;
    for (const id of misuse.runs) await retry(() => rc.result(id)).catch(() => undefined);
    // The report and the checks below read an undisturbed simulator.
    const faultHits: Record<string, number> = {};
    for (const r of sim.faults.list() as Array<FaultRule & { hits: number }>) {
      const f = r.fault;
      const name = f.kind === 'status' ? `HTTP ${f.status}` : f.kind;
      faultHits[name] = (faultHits[name] ?? 0) + r.hits;
    }
    sim.setFaults([]);
    log(`run closed: ${closed!.status} after ${runS.toFixed(0)} s`);

    let summary: RunSummary | undefined;
    if (closed!.status !== 'COMPLETED')
      failures.push(`the run did not complete: ${closed!.status}\n${supervisor.diagnostics()}`);
    else summary = await retry(() => rc.result(workflowId));
    const report: ItemOutcome[] =
      closed!.status === 'COMPLETED'
        ? await retry(async () => {
            const out: ItemOutcome[] = [];
            for await (const x of rc.report(workflowId)) out.push(x);
            return out;
          })
        : [];
    const misuseFigures = await misuse.check(
      (id) =>
        retry(async () => {
          const out: ItemOutcome[] = [];
          for await (const x of rc.report(id)) out.push(x);
          return out;
        }),
      (provider, scope, id) => survivors(sim, provider, scope).has(id),
      (account) => accounts.find((a) => a.name === account)!.scope,
      (simKey) => acceptedAt.get(simKey)?.[0],
    );
    failures.push(...Misuse.failures(misuseFigures));
    await supervisor.stop();

    // ---- figures and assertions ----
    const counts = Object.fromEntries(OUTCOMES.map((k) => [k, 0])) as Record<OutcomeKind, number>;
    const seen = new Map<string, ItemOutcome>();
    const times = new Map<string, number>();
    let duplicateOutcomes = 0;
    let unrequestedOutcomes = 0;
    let invalidOutcomes = 0;
    for (const x of report) {
      const key = itemKey(x);
      if (!(OUTCOMES as readonly string[]).includes(x.outcome) || !x.reason) invalidOutcomes++;
      else counts[x.outcome]++;
      times.set(key, (times.get(key) ?? 0) + 1);
      if (seen.has(key)) duplicateOutcomes++;
      else if (!world.expected.has(key)) unrequestedOutcomes++;
      seen.set(key, x);
    }
    let lost = 0;
    for (const key of world.expected.keys()) if (!seen.has(key)) lost++;
    const exactlyOnce = [...world.expected.keys()].filter((k) => times.get(k) === 1).length;

    const snap = sim.ctx.counters.snapshot();
    const requestedSimKeys = new Set([
      ...[...world.expected.values()].map((v) => v.simKey),
      ...misuse.cancelledSimKeys,
    ]);
    const deleteCallsOutsideRequest = Object.keys(snap.deleteCalls).filter((k) => !requestedSimKeys.has(k));
    const acceptedTwice = Object.entries(snap.acceptedDeletes).filter(([, n]) => n > 1);
    const secondSessions = Object.entries(snap.sessionsPerVm).filter(([, n]) => n > 1);
    const repeats = Object.entries(sim.ctx.counters.deleteRequests.repeats())
      .filter(([k]) => requestedSimKeys.has(k))
      .reduce((s, [, n]) => s + n, 0);
    const repeatBound = events.reduce((s, e) => s + e.inFlight, 0);

    const alive = new Map<string, Set<string>>();
    const aliveIn = (provider: ProviderKind, scope: string) => {
      const k = `${provider}:${scope}`;
      if (!alive.has(k)) alive.set(k, survivors(sim, provider, scope));
      return alive.get(k)!;
    };
    const notRequestedSurvivors = world.notRequested.filter((b) =>
      aliveIn(b.provider, b.scope).has(b.id),
    ).length;

    // Outcomes true to the provider's state.
    const untruthful: string[] = [];
    let deletedReportedAbsent = 0;
    let absentByAnotherRun = 0;
    let failedButDeleted = 0;
    let veeamManualChecks = 0;
    const accuracyExamples: string[] = [];
    const failedReasons: Record<string, number> = {};
    const skippedReasons: Record<string, number> = {};
    for (const [key, exp] of world.expected) {
      const x = seen.get(key);
      if (!x) continue;
      const exists = aliveIn(exp.provider, exp.scope).has(exp.id);
      const acceptedHere = (snap.acceptedDeletes[exp.simKey] ?? 0) > 0;
      const wrong = (why: string) => untruthful.push(`${key}: ${x.outcome} (${x.reason}) but ${why}`);
      if ((x.outcome === 'deleted' || x.outcome === 'absent') && exists) wrong('the backup still exists');
      if (x.outcome === 'deleted' && !acceptedHere) wrong('the provider never accepted a delete for it');
      if (x.outcome === 'blocked' && !exists) wrong('the backup is gone');
      if (exp.kind === 'gone' && x.outcome !== 'absent' && x.outcome !== 'failed') wrong('it never existed');
      if (exp.kind === 'blocked' && x.outcome !== 'blocked' && x.outcome !== 'failed')
        wrong('the provider refuses to delete it');
      if (exp.kind === 'deletable' && x.outcome === 'blocked') wrong('the provider would delete it');
      // When the provider accepted it, against the chaos events: which crash lost the acknowledgement.
      const inaccurate = (why: string) => {
        const at = acceptedAt.get(exp.simKey)?.[0];
        const next = at === undefined ? undefined : events.find((e) => e.atS >= at - 0.05);
        const when =
          at === undefined
            ? ''
            : `; accepted at ${at.toFixed(1)} s${next ? `, next chaos event ${next.kind} at ${next.atS.toFixed(1)} s` : ''}`;
        accuracyExamples.push(`${key}: ${x.outcome} (${x.reason}) ${why}${when}`);
      };
      if (x.outcome === 'absent' && exp.kind === 'deletable' && acceptedHere && ANOTHER_RUN.test(x.reason))
        absentByAnotherRun++;
      else if (x.outcome === 'absent' && exp.kind === 'deletable' && acceptedHere) {
        deletedReportedAbsent++;
        inaccurate('but the provider accepted our delete');
      }
      if (x.outcome === 'failed' && acceptedHere && !exists) {
        failedButDeleted++;
        inaccurate('but our delete was accepted and the backup is gone');
      }
      if (x.outcome === 'failed' && x.code === FAILURE.UnansweredRequest) {
        veeamManualChecks++;
        inaccurate('needs a person to check the appliance');
      }
      if (x.outcome === 'failed')
        failedReasons[`${x.code ?? ''} ${x.reason}`.trim()] =
          (failedReasons[`${x.code ?? ''} ${x.reason}`.trim()] ?? 0) + 1;
      if (x.outcome === 'skipped') skippedReasons[x.reason] = (skippedReasons[x.reason] ?? 0) + 1;
    }

    const perAccount: AccountFigures[] = accounts.map((a) => ({
      account: a.name,
      provider: a.provider,
      items: a.items,
      limit: a.limit,
      observedMaxConcurrent: snap.maxConcurrentDeletions[`${a.provider}:${a.scope}`] ?? 0,
    }));

    // ---- assertions ----
    if (summary) {
      if (summary.total !== world.items.length)
        failures.push(`the summary counts ${summary.total} items, the request had ${world.items.length}`);
      for (const k of OUTCOMES)
        if (summary.counts[k] !== counts[k])
          failures.push(`summary says ${summary.counts[k]} ${k}, the report ${counts[k]}`);
    }
    if (closed!.status === 'COMPLETED') {
      if (exactlyOnce !== world.items.length)
        failures.push(`${world.items.length - exactlyOnce} items without exactly one outcome`);
      if (lost)
        failures.push(
          `${lost} items lost (no outcome), e.g. ${[...world.expected.keys()]
            .filter((k) => !seen.has(k))
            .slice(0, 5)
            .join(', ')}`,
        );
      if (duplicateOutcomes) failures.push(`${duplicateOutcomes} duplicate outcomes`);
      if (unrequestedOutcomes) failures.push(`${unrequestedOutcomes} outcomes for items not in the request`);
      if (invalidOutcomes) failures.push(`${invalidOutcomes} outcomes without a valid kind or a reason`);
      if (untruthful.length)
        failures.push(
          `${untruthful.length} outcomes contradict the provider's state: ${untruthful.slice(0, 5).join('; ')}`,
        );
    }
    // Issue 13: the report never contradicts what the run did, and no item needs a person. "Deleted but
    // reported absent" is still a figure, not a failure: a pipelined group's later request can be
    // accepted before the heartbeat naming it reaches the server, and a crash in that gap leaves no
    // record (docs/chaos.md, "What is left"). Goal 0; issue 13 stays open until it is.
    if (failedButDeleted || veeamManualChecks)
      failures.push(
        `outcome accuracy: ${failedButDeleted} failed although our delete was accepted, ${veeamManualChecks} Veeam items needing a manual check: ${accuracyExamples.slice(0, 5).join('; ')}`,
      );
    if (deleteCallsOutsideRequest.length)
      failures.push(
        `delete calls on backups not in the request: ${deleteCallsOutsideRequest.slice(0, 5).join(', ')}`,
      );
    if (notRequestedSurvivors !== world.notRequested.length)
      failures.push(
        `${world.notRequested.length - notRequestedSurvivors} backups not in the request are gone`,
      );
    // For each backup accepted twice: when, and the chaos event just before the second acceptance.
    const repeated = acceptedTwice.map(([k]) => {
      const at = acceptedAt.get(k) ?? [];
      // The chaos event that came next after the first acceptance (a crash between the provider's
      // acceptance and the recording of it explains a second one).
      const first = at[0] ?? -Infinity;
      const next = events.find((e) => e.atS >= first - 0.05);
      const outcome = [...world.expected.entries()].find(([, v]) => v.simKey === k)?.[0];
      const x = outcome ? seen.get(outcome) : undefined;
      return (
        `${k}: accepted at ${at.map((t) => `${t.toFixed(1)} s`).join(' and ')}` +
        (next
          ? ` (next chaos event after the first: ${next.kind} at ${next.atS.toFixed(1)} s)`
          : ' (after every chaos event)') +
        (x ? `; reported ${x.outcome}: ${x.reason}` : '')
      );
    });
    if (acceptedTwice.length)
      failures.push(`backups accepted for deletion more than once: ${repeated.join('; ')}`);
    if (repeats > repeatBound)
      failures.push(
        `${repeats} delete requests after acceptance, more than the ${repeatBound} deletions in flight during the chaos events: ${JSON.stringify(sim.ctx.counters.deleteRequests.repeats())}`,
      );
    if (secondSessions.length)
      failures.push(
        `Veeam VMs with a second deletion session: ${secondSessions
          .slice(0, 5)
          .map(([k, n]) => `${k} x${n}`)
          .join(', ')}`,
      );
    for (const a of perAccount)
      if (a.observedMaxConcurrent > a.limit)
        failures.push(`${a.account}: ${a.observedMaxConcurrent} deletions at once, limit ${a.limit}`);

    const result: ChaosResult = {
      ok: failures.length === 0,
      failures,
      workflowId,
      items: world.items.length,
      accounts: accounts.length,
      providers,
      wallS: (performance.now() - t0) / 1000,
      runS,
      counts,
      summaryCounts: summary?.counts,
      exactlyOnce,
      lost,
      duplicateOutcomes,
      unrequestedOutcomes,
      invalidOutcomes,
      deleteCallsOutsideRequest: deleteCallsOutsideRequest.length,
      acceptedTwice: acceptedTwice.length,
      repeats,
      repeatBound,
      veeamVmsWithSecondSession: secondSessions.length,
      misuse: misuseFigures,
      notRequestedSurvivors,
      notRequested: world.notRequested.length,
      untruthfulOutcomes: untruthful.length,
      deletedReportedAbsent,
      absentByAnotherRun,
      failedButDeleted,
      veeamManualChecks,
      accuracyExamples,
      failedReasons,
      skippedReasons,
      perAccount,
      events,
      unexpectedWorkerExits: supervisor.unexpectedExits,
      workerProcesses: supervisor.all.length,
      clientErrorsWhileWaiting: clientErrors,
      faultHits,
      // Keys `${provider} ${method}` (the JSA simulator adds `jsa:<console> Version <v>` keys: not requests).
      providerRequests: Object.entries(snap.requests)
        .filter(([k]) => /^\w+ [A-Z]+$/.test(k))
        .reduce((s, [, n]) => s + n, 0),
      machine,
      startedAt,
      options: o,
    };
    keepDir = !result.ok;
    return result;
  } catch (err) {
    keepDir = true;
    throw err;
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${String(err)}`));
    if (keepDir) log(`kept ${dir} (SQLite file and worker config) for inspection`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

async function retry<T>(f: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(1000 * i);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Rendering.

const check = (ok: boolean) => (ok ? 'pass' : '**FAIL**');

/** The figures as a Markdown table (printed by `npm run chaos`, written into docs/chaos.md). */
export function renderChaos(r: ChaosResult): string {
  const rows: [string, string, string][] = [
    ['items requested', `${r.items} over ${r.accounts} accounts (${r.providers.join(', ')})`, 'info'],
    ['items with exactly one outcome', `${r.exactlyOnce} / ${r.items}`, check(r.exactlyOnce === r.items)],
    ['items lost (no outcome)', String(r.lost), check(r.lost === 0)],
    [
      'duplicate outcomes / outcomes for items not requested',
      `${r.duplicateOutcomes} / ${r.unrequestedOutcomes}`,
      check(!r.duplicateOutcomes && !r.unrequestedOutcomes),
    ],
    [
      'outcomes contradicting the provider state',
      String(r.untruthfulOutcomes),
      check(r.untruthfulOutcomes === 0),
    ],
    [
      'delete calls on backups not in the request',
      String(r.deleteCallsOutsideRequest),
      check(r.deleteCallsOutsideRequest === 0),
    ],
    [
      'backups not in the request still there',
      `${r.notRequestedSurvivors} / ${r.notRequested}`,
      check(r.notRequestedSurvivors === r.notRequested),
    ],
    ['backups accepted for deletion more than once', String(r.acceptedTwice), check(r.acceptedTwice === 0)],
    [
      'delete requests after acceptance (repeats) / bound: deletions in flight during the chaos events',
      `${r.repeats} / ${r.repeatBound}`,
      check(r.repeats <= r.repeatBound),
    ],
    [
      'Veeam VMs with a second deletion session (over every run, the twin included)',
      String(r.veeamVmsWithSecondSession),
      check(r.veeamVmsWithSecondSession === 0),
    ],
    [
      'twin run: the same Veeam VMs again, some repeated in its addItems page: items without one true outcome',
      `${r.misuse.twinProblems.length} of ${r.misuse.twinItems}`,
      check(r.misuse.twinProblems.length === 0),
    ],
    [
      `run cancelled through Temporal at ${r.misuse.cancelAtS?.toFixed(1) ?? '-'} s: deletions accepted after the group window (${CANCEL_ALLOWANCE_S} s)`,
      `${r.misuse.acceptedAfterCancelWindow.length} (${r.misuse.cancelledSkipped} of ${r.misuse.cancelledItems} skipped)`,
      check(r.misuse.acceptedAfterCancelWindow.length === 0 && r.misuse.cancelledProblems.length === 0),
    ],
    [
      'accounts above their concurrency limit',
      String(r.perAccount.filter((a) => a.observedMaxConcurrent > a.limit).length),
      check(r.perAccount.every((a) => a.observedMaxConcurrent <= a.limit)),
    ],
    ['outcomes', OUTCOMES.map((k) => `${k} ${r.counts[k]}`).join(', '), 'info'],
    [
      'deleted by the run but reported absent (acknowledgement lost in a crash; goal 0, not yet met)',
      String(r.deletedReportedAbsent),
      r.deletedReportedAbsent === 0 ? 'pass' : 'open (issue 13)',
    ],
    [
      'absent because another run had it deleted first (the lane ledger answered; not counted above)',
      String(r.absentByAnotherRun),
      'info',
    ],
    [
      'reported failed although our delete was accepted (the backup is gone)',
      String(r.failedButDeleted),
      check(r.failedButDeleted === 0),
    ],
    [
      'Veeam items needing a manual check (UnansweredRequest)',
      String(r.veeamManualChecks),
      check(r.veeamManualChecks === 0),
    ],
    [
      'run time (start to result) / wall time (incl. setup)',
      `${r.runS.toFixed(0)} s / ${r.wallS.toFixed(0)} s`,
      'info',
    ],
    [
      'worker processes (SIGKILLed / died on their own)',
      `${r.workerProcesses} (${r.events.filter((e) => e.kind === 'worker SIGKILL').length} / ${r.unexpectedWorkerExits.length})`,
      'info',
    ],
    [
      'provider requests / injected faults',
      `${r.providerRequests} / ${Object.entries(r.faultHits)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
      'info',
    ],
    ['client calls that failed while the server was away', String(r.clientErrorsWhileWaiting), 'info'],
  ];
  const out = [
    '| figure | value | result |',
    '| --- | --- | --- |',
    ...rows.map((x) => `| ${x.join(' | ')} |`),
  ];
  out.push(
    '',
    '| chaos event | planned at | happened at (deletions accepted) | run time | back after | deletions in flight |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const e of r.events)
    out.push(
      `| ${e.kind} | ${(e.plannedAt * 100).toFixed(0)}% | ${(e.progress * 100).toFixed(1)}% | ${e.atS.toFixed(1)} s | ${e.recoveryS.toFixed(1)} s | ${e.inFlight} |`,
    );
  out.push(
    '',
    '| account | provider | items | limit | observed max concurrency | result |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const a of r.perAccount)
    out.push(
      `| ${a.account} | ${a.provider} | ${a.items} | ${a.limit} | ${a.observedMaxConcurrent} | ${check(a.observedMaxConcurrent <= a.limit)} |`,
    );
  const reasons = (title: string, m: Record<string, number>) => {
    const e = Object.entries(m);
    if (e.length) out.push('', `${title}:`, '', ...e.map(([k, n]) => `- ${n} x ${k}`));
  };
  reasons('Failed items by reason', r.failedReasons);
  reasons('Skipped items by reason', r.skippedReasons);
  // Each inaccurate outcome with when the provider accepted it and the chaos event after: where to look.
  if (r.accuracyExamples.length)
    out.push('', 'Inaccurate outcomes (issue 13):', '', ...r.accuracyExamples.map((x) => `- ${x}`));
  if (r.unexpectedWorkerExits.length)
    out.push('', 'Workers that died on their own:', '', ...r.unexpectedWorkerExits.map((x) => `- ${x}`));
  if (r.failures.length)
    out.push('', 'FAILED assertions:', '', ...r.failures.map((f) => `- ${f.split('\n')[0]}`));
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// `npm run chaos`

const DOC = join(ROOT, 'docs', 'chaos.md');
const BEGIN = '<!-- chaos:latest:begin -->';
const END = '<!-- chaos:latest:end -->';

async function writeDoc(r: ChaosResult, command: string): Promise<void> {
  const block = [
    BEGIN,
    '',
    `Run of ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC: **${r.ok ? 'all assertions hold' : `${r.failures.length} assertion(s) FAILED`}**; ${r.machine}.`,
    '',
    `Command: \`${command}\``,
    '',
    renderChaos(r),
    '',
    END,
  ].join('\n');
  const text = readFileSync(DOC, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < 0) throw new Error(`${DOC} lacks the ${BEGIN} ... ${END} markers`);
  await writeFormattedDoc(DOC, text.slice(0, a) + block + text.slice(b + END.length));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      items: { type: 'string' },
      accounts: { type: 'string' },
      'worker-kills': { type: 'string' },
      'server-restarts': { type: 'string' },
      'delete-ms': { type: 'string' },
      seed: { type: 'string' },
      'no-doc': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run chaos [-- --quick] [--items N] [--accounts N] [--worker-kills N] [--server-restarts N] [--delete-ms MS] [--seed N] [--no-doc]\n\n' +
        'Full size: 2,000 items over 12 accounts (all five providers), 20% 5xx, 5% 429, latency jitter, 3 worker SIGKILLs\n' +
        'and 1 dev server SIGKILL + restart (persistent SQLite). --quick: 300 items, 10 accounts, 1 worker kill, 1 restart.\n' +
        'Writes the figures into docs/chaos.md (unless --no-doc). Exit code 1 when an assertion fails.',
    );
    return 0;
  }
  const quick = values.quick === true;
  const kills = Number(values['worker-kills'] ?? (quick ? 1 : 3));
  const restarts = Number(values['server-restarts'] ?? 1);
  // Spread over the run: kills from 20% to 70%, restarts in between.
  const spreadOver = (n: number, from: number, to: number) =>
    Array.from({ length: n }, (_, i) => (n === 1 ? from : from + ((to - from) * i) / (n - 1)));
  const options: ChaosOptions = {
    items: Number(values.items ?? (quick ? 300 : 2_000)),
    accounts: Number(values.accounts ?? (quick ? 10 : 12)),
    workerKillsAt: quick && !values['worker-kills'] ? [0.3] : spreadOver(kills, 0.2, 0.7),
    serverRestartsAt: quick && !values['server-restarts'] ? [0.6] : spreadOver(restarts, 0.55, 0.85),
    ...(values['delete-ms'] ? { deleteMs: Number(values['delete-ms']) } : quick ? { deleteMs: 1_200 } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
    log: (m) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${m}`),
  };
  const command = `npm run chaos${
    process.argv.length > 2
      ? ` -- ${process.argv
          .slice(2)
          .filter((a) => a !== '--no-doc')
          .join(' ')}`
      : ''
  }`.trim();
  const r = await runChaos(options);
  console.log(`\n${renderChaos(r)}\n`);
  if (!values['no-doc']) {
    await writeDoc(r, command.endsWith('--') ? 'npm run chaos' : command);
    console.log(`figures written to ${DOC}`);
  }
  console.log(
    r.ok ? 'chaos run: all assertions hold' : `chaos run: ${r.failures.length} assertion(s) FAILED`,
  );
  for (const f of r.failures) console.error(`- ${f}`);
  return r.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
