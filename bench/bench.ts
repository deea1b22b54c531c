/**
 * `npm run bench` (`-- --quick` for smaller sizes): every figure of the "Proof" issue, measured in one
 * run on ONE Temporal dev server (in-memory, headless), with the provider simulator in this process and
 * the product's worker as a child process (`worker/main.ts`, as an operator runs it), so its memory is
 * its own. Phases, in order:
 *
 *  1. warm-up: a small durable run and a small plain run (JIT, connections, lanes started once);
 *  2. makespan: N items over 20 VBS accounts, 5 deletions at a time each, 300 ms per deletion, poll
 *     interval 100 ms; against the lower bound (busiest account's ceil(n/5) x 300 ms) and against
 *     bench/plain-script.ts (same adapters, simulator and limits, no Temporal);
 *  3. throughput at zero provider latency (deletions finish at once, poll interval 1 ms) against raw
 *     no-op activities on the same server with the same concurrency (bench/noop-workflow.ts);
 *  4. history events and billable actions per deleted backup, counted from the histories of phases 2
 *     and 3 (rules in bench/history.ts);
 *  5. a big run (100,000 items; --quick: 10,000) for bounded history and the worker's peak RSS.
 *
 * Writes bench/results/latest.{json,md,svg,png} and the table into docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { RetentionClient } from '../client/retention-client';
import { DevServer, freePort } from '../scripts/dev-server';
import { Simulator } from '../simulator/server';
import { parseWorkerConfig } from '../worker/config';
import { METRIC_NAMES } from '../worker/metrics';
import type { ItemRef } from '../contract/model';
import type { CleanupRequestInput } from '../contract/request';
import { countHistories, historyLengths, type HistoryTotals } from './history';
import { listPlain, runPlainScript } from './plain-script';
import { judge, median, writeResults, type Figure } from './report';
import { quietLogger } from '../scripts/quiet-logger';
import { interleaveByAccount } from '../workflows/batch-planning';

const ROOT = resolve(__dirname, '..');
const ACCOUNTS = 20;
const LIMIT = 5;
const DELETE_MS = 300;
const POLL = '100ms';
const CREDENTIALS = {
  BENCH_HUAWEI_USER: 'bench-user',
  BENCH_HUAWEI_PASSWORD: 'bench-password-simulator-only',
};

/**
 * Process settings for a worker, as docs/operations.md recommends: a small V8 heap (V8 otherwise lets
 * garbage grow towards a quarter of the machine's memory before collecting it; the limit applies to
 * each isolate, the main thread's and the workflow thread's), a workflow cache set explicitly (the SDK
 * would derive it from the heap limit: only 10 at 128 MB; 64 holds the 60 lanes and the active batches
 * of the big run), a small young generation, and at most two glibc malloc arenas (the Rust core's
 * threads otherwise each get one, which inflates RSS). Measured: 100,000-item run peak 387 MB with
 * these, 654 MB with a 256 MB heap and the derived cache of 32; the workflow thread ran out of a 128 MB
 * heap once pipelined groups made that run 2.5 times faster.
 */
const WORKER_PROCESS_ENV = {
  NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=4',
  MALLOC_ARENA_MAX: '2',
  RETENTION_MAX_CACHED_WORKFLOWS: '64',
};

/** Runs of each makespan phase; the figures are their medians (issue 16: one run is not a figure). */
const REPEATS = 3;
const PHASES = ['makespan', 'throughput', 'big'] as const;
/** Policy phase: each account lists this many backups, of which the policy keeps the newest POLICY_KEEP. */
const POLICY_LISTED = 400;
const POLICY_KEEP = 150;

const SIZES = {
  full: { makespan: 5_000, throughput: 5_000, big: 100_000 },
  quick: { makespan: 2_000, throughput: 2_000, big: 10_000 },
};

/** The load average as `uptime` shows it: every figure is recorded with the load it was taken under. */
const uptime = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`;

interface DurableRun {
  id: string;
  ms: number;
  firstDeletionS: number;
  requestsPerDeletion: number;
  requestsPerDeletionByType: Record<string, number>;
}

/** One repetition of the makespan phases, run back to back. */
interface MakespanRep {
  load: number[];
  durable: DurableRun;
  plain: { ms: number };
  grouped: DurableRun;
  policy: DurableRun & { listingMs: number; boundMs: number };
  maxConcurrencyObserved: { durable: number; plain: number; limit: number };
}

const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** A promise that fails, naming what, after ms (a stuck phase must not hang the benchmark). */
async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function accountNames(group: string, n = ACCOUNTS): string[] {
  return Array.from({ length: n }, (_, i) => `${group}-${String(i).padStart(2, '0')}`);
}

function benchConfig(simUrl: string, groups: Record<string, { names: string[]; pollInterval: string }>) {
  const accounts: Record<string, unknown> = {};
  for (const { names, pollInterval } of Object.values(groups)) {
    for (const name of names) {
      accounts[name] = {
        provider: 'vbs',
        endpoint: `${simUrl}/vbs`,
        iamEndpoint: `${simUrl}/iam`,
        projectId: `proj-${name}`,
        domain: 'bench-domain',
        credentials: { username: { env: 'BENCH_HUAWEI_USER' }, password: { env: 'BENCH_HUAWEI_PASSWORD' } },
        limits: {
          maxConcurrent: LIMIT,
          // High enough never to bind: the figures are about concurrency and orchestration.
          requestsPerSecond: 1000,
          pollInterval,
          deletionDeadline: '30m',
          requestTimeout: '10s',
        },
      };
    }
  }
  return { taskQueue: 'retention-bench', accounts };
}

/** Seeds `perAccount` available VBS backups in each account's project; returns the items. */
function seed(sim: Simulator, names: string[], perAccount: number[], prefix: string): ItemRef[] {
  const items: ItemRef[] = [];
  names.forEach((account, a) => {
    const backups = Array.from({ length: perAccount[a]! }, (_, i) => ({
      id: `${prefix}-${String(i).padStart(6, '0')}`,
      name: `bench-${i}`,
      status: 'available',
      volume_id: `vol-${i % 10}`,
      created_at: '2025-01-01T00:00:00.000000',
    }));
    sim.seed('vbs', `proj-${account}`, backups);
    for (const b of backups) items.push({ account, id: b.id });
  });
  return items;
}

/** n items spread over the accounts as evenly as possible. */
function spread(n: number, accounts: number): number[] {
  return Array.from({ length: accounts }, (_, i) => Math.floor(n / accounts) + (i < n % accounts ? 1 : 0));
}

interface ChildProc {
  child: ChildProcess;
  tail(): string;
  stop(): Promise<void>;
}

/** Starts `node <args>` and resolves once its stderr shows `readyText`. */
async function spawnChild(
  args: string[],
  env: NodeJS.ProcessEnv,
  readyText: string,
  what: string,
): Promise<ChildProc> {
  // BENCH_NODE_ARGS: extra node flags for the child processes (e.g. memory probes), space-separated.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  let stopping = false;
  let ready = false;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // A child that dies mid-benchmark would leave the bench waiting for runs nobody works on: fail loudly.
  void exited.then(() => {
    if (stopping || !ready) return;
    console.error(
      `\n${what} exited unexpectedly (code ${child.exitCode}, signal ${child.signalCode}); its last output:\n${tail}`,
    );
    process.exit(1);
  });
  await within(
    `${what} start`,
    180_000,
    new Promise<void>((ok, fail) => {
      child.stderr!.on('data', (d: Buffer) => {
        tail = (tail + d.toString()).slice(-20_000);
        if (tail.includes(readyText)) ok();
      });
      void exited.then(() => fail(new Error(`${what} exited before it was ready:\n${tail}`)));
    }),
  );
  ready = true;
  return {
    child,
    tail: () => tail,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Samples a process's resident memory from /proc (kB → MB): the current value and the kernel's peak. */
function memoryOf(pid: number): { rssMb: number; hwmMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** This process's children whose command line contains `text` (the dev server's pid is private to DevServer). */
function childPid(text: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function parseMetrics(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const key = m[2] ? `${m[1]}${m[2]}` : m[1]!;
    sums.set(key, Number(m[3]));
  }
  return sums;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      'makespan-items': { type: 'string' },
      'throughput-items': { type: 'string' },
      'big-items': { type: 'string' },
      repeats: { type: 'string' },
      only: { type: 'string' },
      fairness: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench [-- --quick] [--makespan-items N] [--throughput-items N] [--big-items N]\n' +
        '                     [--repeats N] [--only makespan,throughput,big] [--fairness]\n' +
        `full sizes: ${JSON.stringify(SIZES.full)}; --quick: ${JSON.stringify(SIZES.quick)}\n` +
        `--repeats: runs of each makespan phase (interleaved, plain, grouped, policy), median reported (default ${REPEATS})\n` +
        '--only: the phases to run (default all); figures of the others are left out\n' +
        '--fairness: the dev server with task-queue fairness on (matching.enableFairness=true)',
    );
    return;
  }
  const mode = values.quick ? 'quick' : 'full';
  const sizes = {
    makespan: Number(values['makespan-items'] ?? SIZES[mode].makespan),
    throughput: Number(values['throughput-items'] ?? SIZES[mode].throughput),
    big: Number(values['big-items'] ?? SIZES[mode].big),
  };
  const repeats = Number(values.repeats ?? REPEATS);
  if (!Number.isInteger(repeats) || repeats < 1)
    throw new Error(`--repeats: expected a whole number >= 1, got ${values.repeats}`);
  const only = new Set((values.only ?? PHASES.join(',')).split(',').filter(Boolean));
  for (const p of only)
    if (!(PHASES as readonly string[]).includes(p))
      throw new Error(`--only: unknown phase "${p}"; possible: ${PHASES.join(', ')}`);
  const extra = process.argv.slice(2).filter((a) => a !== '--');
  const command = `npm run bench${extra.length ? ` -- ${extra.join(' ')}` : ''}`;
  const benchStart = performance.now();
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  log(
    `mode ${mode}: ${JSON.stringify(sizes)}; ${cpus().length} CPUs, load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}`,
  );

  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  };
  try {
    // ---- the stack: one dev server, the simulator here, the worker as a child process ----
    // --fairness: task-queue fairness on, so the deletion activities' fairness keys take effect.
    const server = new DevServer({
      headless: true,
      log,
      ...(values.fairness ? { dynamicConfig: { 'matching.enableFairness': true } } : {}),
    });
    await server.start();
    cleanups.push(() => server.stop());
    log(`Temporal dev server at ${server.address}`);

    const outDir = join(ROOT, '.data', 'bench');
    mkdirSync(outDir, { recursive: true });
    const bundlePath = join(outDir, 'workflow-bundle.js');
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: quietLogger,
    });
    writeFileSync(bundlePath, code);

    const sim = new Simulator({ timings: { deleteMs: { vbs: DELETE_MS } } });
    await sim.start();
    cleanups.push(() => sim.stop());

    const groups = {
      wu: { names: accountNames('wu', 4), pollInterval: POLL },
      mk: { names: accountNames('mk'), pollInterval: POLL },
      mg: { names: accountNames('mg'), pollInterval: POLL },
      zl: { names: accountNames('zl'), pollInterval: '1ms' },
      big: { names: accountNames('big'), pollInterval: '1ms' },
    };
    // Policy runs list their accounts, so each repetition needs accounts of its own.
    const policyGroups = Array.from({ length: repeats }, (_, r) => ({
      names: accountNames(`p${r}`),
      pollInterval: POLL,
    }));
    const configObject = benchConfig(sim.url, {
      ...groups,
      ...Object.fromEntries(policyGroups.map((g, r) => [`p${r}`, g])),
    });
    const dir = mkdtempSync(join(tmpdir(), 'rc-bench-'));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(configObject));
    Object.assign(process.env, CREDENTIALS);
    const loaded = parseWorkerConfig(configObject, 'bench config');

    const taskQueue = `bench-${Date.now()}`;
    const metricsPort = await freePort();
    const childEnv = {
      ...process.env,
      ...CREDENTIALS,
      TEMPORAL_ADDRESS: server.address,
      RETENTION_WORKFLOW_BUNDLE: bundlePath,
    };
    // The worker as an operator runs it: the CLI entry, with the process settings docs/operations.md
    // recommends (WORKER_PROCESS_ENV; BENCH_WORKER_ENV=default runs it without them).
    const workerEnv = process.env.BENCH_WORKER_ENV === 'default' ? {} : WORKER_PROCESS_ENV;
    const worker = await spawnChild(
      [
        'bin/retention-cleanup.cjs',
        'worker',
        '--config',
        configFile,
        '--task-queue',
        taskQueue,
        '--metrics-address',
        `127.0.0.1:${metricsPort}`,
      ],
      { ...childEnv, ...workerEnv },
      'worker ready on task queue',
      'worker process',
    );
    cleanups.push(() => worker.stop());
    const workerPid = worker.child.pid!;
    log(`worker process ${workerPid} ready on ${taskQueue}, metrics on 127.0.0.1:${metricsPort}`);

    // RSS of the worker process, sampled each second (the kernel's VmHWM catches peaks between samples).
    let phase = 'start';
    const rssPeakByPhase: Record<string, number> = {};
    const rssSeries: [number, number][] = [];
    const sampler = setInterval(() => {
      const m = memoryOf(workerPid);
      if (!m) return;
      rssPeakByPhase[phase] = Math.max(rssPeakByPhase[phase] ?? 0, m.rssMb);
      rssSeries.push([Math.round((performance.now() - benchStart) / 1000), Math.round(m.rssMb)]);
    }, 1000);
    cleanups.push(async () => clearInterval(sampler));

    // CPU seconds per phase of each process: where the time goes on shared cores.
    const serverPid = childPid('start-dev');
    let noopPid: number | undefined;
    const cpuNow = () => ({
      at: performance.now(),
      server: serverPid ? cpuSecondsOf(serverPid) : 0,
      worker: cpuSecondsOf(workerPid),
      noopWorker: noopPid ? cpuSecondsOf(noopPid) : 0,
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    });
    const cpuByPhase: Record<string, Record<string, number>> = {};
    let mark = cpuNow();
    const setPhase = (next: string) => {
      const now = cpuNow();
      const d = (k: 'server' | 'worker' | 'noopWorker' | 'bench') => Math.round((now[k] - mark[k]) * 10) / 10;
      cpuByPhase[phase] = {
        wallS: Math.round((now.at - mark.at) / 100) / 10,
        server: d('server'),
        worker: d('worker'),
        ...(noopPid ? { noopWorker: d('noopWorker') } : {}),
        benchAndSimulator: d('bench'),
      };
      phase = next;
      mark = now;
    };

    const rc = await RetentionClient.connect({ address: server.address, taskQueue });
    cleanups.push(() => rc.close());

    /**
     * One executed run (a list of items, or a policy with `expected` deletions) from the start request
     * to its result. Also: the time from the start request to the first delete the simulator accepted,
     * and every request the simulator saw (listings, logins, deletes, polls) per deleted backup; both
     * read from the simulator's counters, so the caller resets them before.
     */
    const durableRun = async (
      label: string,
      what: ItemRef[] | Pick<CleanupRequestInput, 'policy'>,
      timeoutMs: number,
      expected = Array.isArray(what) ? what.length : 0,
    ) => {
      const startEpoch = Date.now();
      const t0 = performance.now();
      const request = Array.isArray(what) ? { items: what } : what;
      const id = await rc.start(
        { ...request, dryRun: false, label },
        { workflowId: `bench-${label}-${Date.now()}` },
      );
      const summary = await within(`durable run ${label}`, timeoutMs, rc.result(id));
      const ms = performance.now() - t0;
      if (summary.counts.deleted !== expected) {
        throw new Error(`run ${label}: expected ${expected} deleted, got ${JSON.stringify(summary.counts)}`);
      }
      const dr = sim.ctx.counters.deleteRequests;
      const first = dr.acceptanceOrder()[0];
      const firstAt = first ? dr.timesOf(first)[0] : undefined;
      const byType = sim.ctx.counters.snapshot().requests;
      const requests = Object.values(byType).reduce((n, v) => n + v, 0);
      const deleted = Math.max(1, summary.counts.deleted);
      return {
        id,
        ms,
        counts: summary.counts,
        firstDeletionS: firstAt === undefined ? NaN : (firstAt - startEpoch) / 1000,
        requestsPerDeletion: requests / deleted,
        /** Per request type (`vbs GET`, `iam POST`...): where the provider requests go. */
        requestsPerDeletionByType: Object.fromEntries(
          Object.entries(byType).map(([k, v]) => [k, Math.round((v / deleted) * 1000) / 1000]),
        ),
      };
    };
    const maxConcurrency = () =>
      Math.max(0, ...Object.values(sim.ctx.counters.snapshot().maxConcurrentDeletions));

    // ---- 1. warm-up ----
    setPhase('warm-up');
    sim.ctx.counters.reset();
    await durableRun('warmup', seed(sim, groups.wu.names, spread(100, 4), 'wu-d'), 300_000);
    await runPlainScript(loaded, seed(sim, groups.wu.names, spread(100, 4), 'wu-p'));
    log('warm-up done');

    // ---- 2. makespan, `repeats` times: interleaved, plain script, grouped by account, policy ----
    // One repetition runs every shape back to back, so the shapes meet the same load; the figures are
    // medians over the repetitions (each one in the JSON).
    const perAccount = spread(sizes.makespan, ACCOUNTS);
    const lowerBoundMs = Math.max(...perAccount.map((n) => Math.ceil(n / LIMIT))) * DELETE_MS;
    const policyDeletes = POLICY_LISTED - POLICY_KEEP;
    const policyDeletionBoundMs = Math.ceil(policyDeletes / LIMIT) * DELETE_MS;
    const reps: MakespanRep[] = [];
    for (let r = 0; only.has('makespan') && r < repeats; r++) {
      setPhase(`makespan-${r}`);
      sim.ctx.counters.reset();
      const mkItems = interleaveByAccount(seed(sim, groups.mk.names, perAccount, `mk${r}-d`));
      const durable = await durableRun(`makespan-${r}`, mkItems, 30 * lowerBoundMs + 300_000);
      const durableMaxConcurrency = maxConcurrency();
      log(
        `[${r + 1}/${repeats}] interleaved ${(durable.ms / 1000).toFixed(1)} s (${(durable.ms / lowerBoundMs).toFixed(2)}x the ${(lowerBoundMs / 1000).toFixed(1)} s bound), first deletion ${durable.firstDeletionS.toFixed(2)} s, ${durable.requestsPerDeletion.toFixed(2)} provider requests per deletion; ${uptime()}`,
      );

      setPhase(`plain-${r}`);
      sim.ctx.counters.reset();
      const plain = await within(
        'plain script',
        30 * lowerBoundMs + 300_000,
        runPlainScript(loaded, seed(sim, groups.mk.names, perAccount, `mk${r}-p`)),
      );
      if (plain.counts.deleted !== sizes.makespan)
        throw new Error(`plain script: ${JSON.stringify(plain.counts)}`);
      const plainMaxConcurrency = maxConcurrency();
      log(`[${r + 1}/${repeats}] plain script ${(plain.makespanMs / 1000).toFixed(1)} s`);

      // The same items in request order grouped by account, as people write lists.
      setPhase(`grouped-${r}`);
      sim.ctx.counters.reset();
      const grouped = await durableRun(
        `grouped-${r}`,
        seed(sim, groups.mg.names, perAccount, `mg${r}-d`),
        30 * lowerBoundMs + 300_000,
      );
      log(
        `[${r + 1}/${repeats}] grouped ${(grouped.ms / 1000).toFixed(1)} s (${(grouped.ms / lowerBoundMs).toFixed(2)}x), first deletion ${grouped.firstDeletionS.toFixed(2)} s; ${uptime()}`,
      );

      // A policy run: every account lists POLICY_LISTED backups, the policy deletes all but the newest
      // POLICY_KEEP. Its bound: what a plain script needs to list the accounts, plus the deletions'.
      setPhase(`policy-${r}`);
      const pNames = policyGroups[r]!.names;
      const now = Date.now();
      pNames.forEach((account) =>
        sim.seed(
          'vbs',
          `proj-${account}`,
          Array.from({ length: POLICY_LISTED }, (_, i) => ({
            id: `p${r}-${String(i).padStart(6, '0')}`,
            name: `nightly-${i}`,
            status: 'available',
            volume_id: 'vol-0',
            // i = 0 newest: one backup an hour
            created_at: new Date(now - (i + 1) * 3_600_000).toISOString().replace('Z', ''),
          })),
        ),
      );
      const listing = await listPlain(loaded, pNames);
      if (listing.listed !== POLICY_LISTED * pNames.length)
        throw new Error(`policy phase: listed ${listing.listed}, seeded ${POLICY_LISTED * pNames.length}`);
      const policyBoundMs = listing.ms + policyDeletionBoundMs;
      sim.ctx.counters.reset();
      const policy = await durableRun(
        `policy-${r}`,
        { policy: { accounts: pNames, rules: { keepLast: POLICY_KEEP } } },
        30 * policyBoundMs + 300_000,
        policyDeletes * pNames.length,
      );
      log(
        `[${r + 1}/${repeats}] policy ${(policy.ms / 1000).toFixed(1)} s (${(policy.ms / policyBoundMs).toFixed(2)}x the bound: listing ${(listing.ms / 1000).toFixed(2)} s + ${(policyDeletionBoundMs / 1000).toFixed(1)} s), first deletion ${policy.firstDeletionS.toFixed(2)} s; ${uptime()}`,
      );
      reps.push({
        load: loadavg(),
        durable,
        plain: { ms: Math.round(plain.makespanMs) },
        grouped,
        policy: { ...policy, listingMs: Math.round(listing.ms), boundMs: Math.round(policyBoundMs) },
        maxConcurrencyObserved: { durable: durableMaxConcurrency, plain: plainMaxConcurrency, limit: LIMIT },
      });
    }
    const med = (f: (r: MakespanRep) => number) => median(reps.map(f));
    const each = (f: (r: MakespanRep) => number) => reps.map(f);
    const mk = {
      ratio: each((r) => r.durable.ms / lowerBoundMs),
      vsPlain: each((r) => r.durable.ms / r.plain.ms),
      grouped: each((r) => r.grouped.ms / lowerBoundMs),
      policy: each((r) => r.policy.ms / r.policy.boundMs),
      // The time to the first accepted delete of a run given its items (interleaved and grouped); a
      // policy run's (listing first) is in the JSON.
      firstDeletion: reps.flatMap((r) => [r.durable.firstDeletionS, r.grouped.firstDeletionS]),
      requests: each((r) => r.durable.requestsPerDeletion),
    };

    // ---- 3. throughput at zero provider latency vs raw no-op activities ----
    let tp: { durableMs: number; rawMs: number; durable: number; raw: number; id: string } | undefined;
    if (only.has('throughput')) {
      setPhase('throughput');
      sim.setTimings({ deleteMs: { vbs: 0 } });
      sim.ctx.counters.reset();
      const zlItems = interleaveByAccount(
        seed(sim, groups.zl.names, spread(sizes.throughput, ACCOUNTS), 'zl-d'),
      );
      const zl = await durableRun('throughput', zlItems, 1_800_000);
      const durableThroughput = sizes.throughput / (zl.ms / 1000);
      log(`durable throughput at zero latency: ${durableThroughput.toFixed(1)} items/s`);

      setPhase('raw-noop-start');
      const noopQueue = `${taskQueue}-noop`;
      const noop = await spawnChild(
        ['--import', 'tsx', 'bench/noop-worker.ts', noopQueue],
        { ...childEnv, ...workerEnv },
        'noop worker ready',
        'no-op worker',
      );
      cleanups.push(() => noop.stop());
      noopPid = noop.child.pid;
      setPhase('raw-noop');
      const t0 = performance.now();
      const handles = await Promise.all(
        spread(sizes.throughput, ACCOUNTS).map((n, i) =>
          rc.client.workflow.start('noopFanout', {
            taskQueue: noopQueue,
            workflowId: `bench-noop-${i}-${Date.now()}`,
            args: [{ n, concurrency: LIMIT }],
          }),
        ),
      );
      await within('raw no-op activities', 1_800_000, Promise.all(handles.map((h) => h.result())));
      const rawMs = performance.now() - t0;
      const rawThroughput = sizes.throughput / (rawMs / 1000);
      await noop.stop();
      noopPid = undefined;
      log(`raw no-op activity throughput: ${rawThroughput.toFixed(1)} activities/s`);
      tp = { durableMs: zl.ms, rawMs, durable: durableThroughput, raw: rawThroughput, id: zl.id };
    }

    // ---- 4. history events and actions per deleted backup ----
    setPhase('histories');
    const ofRuns = (runIds: string[], group: string) => (wid: string) =>
      runIds.some((id) => wid === id || wid.startsWith(`${id}/`)) ||
      wid.startsWith(`retention-cleanup-lane/${group}-`);
    const per = (h: HistoryTotals, n: number) => ({
      eventsPerItem: h.events / n,
      actionsPerItem: h.totalActions / n,
      deletionActivityActionsPerItem: (h.deletionActivityAttempts + h.deletionHeartbeats) / n,
      breakdownPerItem: Object.fromEntries(Object.entries(h.actions).map(([k, v]) => [k, v / n])),
    });
    // The interleaved runs of every repetition, with the mk-* lanes they shared.
    const mkHist = reps.length
      ? await countHistories(
          rc.client,
          taskQueue,
          ofRuns(
            reps.map((r) => r.durable.id),
            'mk',
          ),
        )
      : undefined;
    const mkPer = mkHist && per(mkHist, sizes.makespan * reps.length);
    const zlHist = tp && (await countHistories(rc.client, taskQueue, ofRuns([tp.id], 'zl')));
    const zlPer = zlHist && per(zlHist, sizes.throughput);
    log(
      `actions per deleted backup: ${zlPer?.actionsPerItem.toFixed(2) ?? '-'} (one poll), ${mkPer?.actionsPerItem.toFixed(2) ?? '-'} (300 ms deletions)`,
    );

    // ---- 5. the big run: bounded history, worker memory ----
    let big: { ms: number; hist: Awaited<ReturnType<typeof historyLengths>> } | undefined;
    if (only.has('big')) {
      setPhase('big');
      sim.ctx.counters.reset();
      const bigItems = interleaveByAccount(seed(sim, groups.big.names, spread(sizes.big, ACCOUNTS), 'big-d'));
      const run = await durableRun('big', bigItems, 4 * 3_600_000);
      const hist = await historyLengths(rc.client, taskQueue, ofRuns([run.id], 'big'));
      big = { ms: run.ms, hist };
      log(
        `big run: ${sizes.big} items in ${(run.ms / 1000).toFixed(0)} s; largest history ${hist.maxEvents} events; ${uptime()}`,
      );
    }

    // ---- metrics endpoint (cross-check) and memory ----
    const scraped = parseMetrics(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    const metricSum = (prefix: string) =>
      [...scraped].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);
    setPhase('end');
    const mem = memoryOf(workerPid);
    const peakRssMb = Math.max(mem?.hwmMb ?? 0, ...Object.values(rssPeakByPhase));
    clearInterval(sampler);
    await worker.stop();
    const wallMs = performance.now() - benchStart;

    const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const medianFigure = (f: Omit<Figure, 'pass' | 'value' | 'repetitions'>, values: number[]): Figure =>
      judge({ ...f, value: median(values), ...(values.length > 1 ? { repetitions: values } : {}) });
    const figures: Figure[] = [];
    if (reps.length) {
      figures.push(
        medianFigure(
          {
            id: 'makespan_vs_lower_bound',
            short: 'makespan / lower bound',
            figure: `makespan / lower bound (${sizes.makespan} items, 20 accounts x ${LIMIT}, ${DELETE_MS} ms)`,
            unit: 'x',
            goal: '<= 1.10x',
            bound: { op: '<=', limit: 1.1 },
            detail: `${s1(med((r) => r.durable.ms))} vs ${s1(lowerBoundMs)}`,
          },
          mk.ratio,
        ),
        medianFigure(
          {
            id: 'makespan_vs_plain',
            short: 'makespan / plain script',
            figure: 'makespan / plain non-durable script',
            unit: 'x',
            goal: '<= 1.10x',
            bound: { op: '<=', limit: 1.1 },
            detail: `${s1(med((r) => r.durable.ms))} vs ${s1(med((r) => r.plain.ms))}`,
          },
          mk.vsPlain,
        ),
        medianFigure(
          { id: 'makespan_s', figure: 'durable makespan', unit: 's', goal: '-' },
          each((r) => r.durable.ms / 1000),
        ),
        medianFigure(
          { id: 'plain_makespan_s', figure: 'plain script makespan', unit: 's', goal: '-' },
          each((r) => r.plain.ms / 1000),
        ),
        judge({
          id: 'lower_bound_s',
          figure: 'lower bound',
          value: lowerBoundMs / 1000,
          unit: 's',
          goal: '-',
        }),
        medianFigure(
          {
            id: 'plain_vs_lower_bound',
            figure: 'plain script / lower bound (poll granularity alone)',
            unit: 'x',
            goal: '-',
          },
          each((r) => r.plain.ms / lowerBoundMs),
        ),
        medianFigure(
          {
            id: 'grouped_makespan_vs_lower_bound',
            short: 'makespan / lower bound, grouped',
            figure: 'makespan / lower bound, request grouped by account',
            unit: 'x',
            goal: '<= 1.10x',
            bound: { op: '<=', limit: 1.1 },
            detail: s1(med((r) => r.grouped.ms)),
          },
          mk.grouped,
        ),
        medianFigure(
          {
            id: 'policy_makespan_vs_lower_bound',
            short: 'makespan / lower bound, policy',
            figure: `makespan / lower bound, policy run (20 accounts x ${POLICY_LISTED} listed, ${policyDeletes} deleted each; bound = plain listing + deletions)`,
            unit: 'x',
            goal: '<= 1.15x',
            bound: { op: '<=', limit: 1.15 },
            detail: `${s1(med((r) => r.policy.ms))} vs ${s1(med((r) => r.policy.boundMs))} (listing ${s1(med((r) => r.policy.listingMs))})`,
          },
          mk.policy,
        ),
        medianFigure(
          {
            id: 'first_deletion_s',
            short: 'first deletion after start',
            figure:
              'first accepted delete after the start request (item lists: interleaved and grouped runs)',
            unit: 's',
            goal: '<= 0.5 s',
            bound: { op: '<=', limit: 0.5 },
          },
          mk.firstDeletion,
        ),
        medianFigure(
          {
            id: 'provider_requests_per_deletion',
            short: 'provider requests per deletion',
            figure: `provider requests per deleted backup (all requests incl. polls and logins, ${DELETE_MS} ms deletions)`,
            unit: '',
            goal: '<= 2.5',
            bound: { op: '<=', limit: 2.5 },
          },
          mk.requests,
        ),
      );
    }
    if (tp)
      figures.push(
        judge({
          id: 'throughput_vs_raw',
          short: 'throughput / raw no-op activities',
          figure: `throughput at zero provider latency / raw no-op activities (${sizes.throughput} items)`,
          value: tp.durable / tp.raw,
          unit: 'x',
          goal: '>= 0.7x',
          bound: { op: '>=', limit: 0.7 },
          detail: `${tp.durable.toFixed(1)} vs ${tp.raw.toFixed(1)} per second`,
        }),
        judge({
          id: 'throughput_items_s',
          figure: 'durable throughput, zero provider latency',
          value: tp.durable,
          unit: 'items/s',
          goal: '-',
        }),
        judge({
          id: 'raw_throughput_s',
          figure: 'raw no-op activity throughput',
          value: tp.raw,
          unit: 'activities/s',
          goal: '-',
        }),
      );
    if (zlPer)
      figures.push(
        judge({
          id: 'actions_per_deleted_one_poll',
          short: 'actions per deleted backup',
          figure: 'billable actions per deleted backup (deletion done within one poll)',
          value: zlPer.actionsPerItem,
          unit: '',
          goal: '<= 0.3',
          bound: { op: '<=', limit: 0.3 },
          detail: JSON.stringify(zlPer.breakdownPerItem),
        }),
        judge({
          id: 'deletion_activity_actions_per_deleted',
          short: '... of which the deletion activity',
          figure: '... of which the deletion activity itself (attempt + heartbeat)',
          value: zlPer.deletionActivityActionsPerItem,
          unit: '',
          goal: '-',
        }),
      );
    if (mkPer)
      figures.push(
        judge({
          id: 'actions_per_deleted_300ms',
          figure: `billable actions per deleted backup (${DELETE_MS} ms deletions)`,
          value: mkPer.actionsPerItem,
          unit: '',
          goal: '-',
        }),
        judge({
          id: 'events_per_deleted',
          figure: `history events per deleted backup (${DELETE_MS} ms deletions)`,
          value: mkPer.eventsPerItem,
          unit: '',
          goal: '-',
        }),
      );
    if (big)
      figures.push(
        judge({
          id: 'big_max_history_events',
          short: 'largest history, big run',
          figure: `largest history in the ${sizes.big.toLocaleString('en')}-item run`,
          value: big.hist.maxEvents,
          unit: 'events',
          goal: '< 10,240',
          bound: { op: '<=', limit: 10_239 },
          detail: JSON.stringify(big.hist.byType),
        }),
        judge({
          id: 'big_wall_s',
          figure: `${sizes.big.toLocaleString('en')}-item run wall time`,
          value: big.ms / 1000,
          unit: 's',
          goal: '-',
        }),
      );
    figures.push(
      judge({
        id: 'worker_peak_rss_mb',
        short: 'worker peak RSS',
        figure: 'worker peak RSS (whole benchmark, VmHWM)',
        value: peakRssMb,
        unit: 'MB',
        goal: '<= 400 MB',
        bound: { op: '<=', limit: 400 },
      }),
    );
    const passed = figures.filter((f) => f.pass === true).length;
    const judged = figures.filter((f) => f.pass !== undefined).length;
    const loadAtEnd = loadavg();
    const summary =
      `${mode === 'quick' ? 'Quick' : 'Full'} run of ${startedAt.slice(0, 16).replace('T', ' ')} UTC${only.size < PHASES.length ? ` (phases: ${[...only].join(', ')})` : ''}: ${passed} of ${judged} goals met; ` +
      `wall time ${(wallMs / 60_000).toFixed(1)} min on ${cpus().length} shared CPUs ` +
      `(load average ${loadAtStart[0]!.toFixed(1)} at start, ${loadAtEnd[0]!.toFixed(1)} at end), one Temporal dev server (in-memory); ` +
      `makespan figures are medians of ${reps.length} repetitions${values.fairness ? '; task-queue fairness on' : ''}.`;
    const results = {
      title: 'retention-cleanup benchmark',
      summary,
      command,
      mode,
      sizes,
      repeats,
      phasesRun: [...only],
      taskQueueFairness: values.fairness === true,
      startedAt,
      wallTimeMs: Math.round(wallMs),
      machine: { cpus: cpus().length, loadAtStart, loadAtEnd, node: process.version },
      figures,
      phases: {
        makespan: {
          items: sizes.makespan,
          lowerBoundMs,
          policy: { listed: POLICY_LISTED, keep: POLICY_KEEP, deletionBoundMs: policyDeletionBoundMs },
          repetitions: reps.map((r) => ({
            loadAverage: r.load,
            durableMs: Math.round(r.durable.ms),
            plainMs: r.plain.ms,
            groupedMs: Math.round(r.grouped.ms),
            policyMs: Math.round(r.policy.ms),
            policyListingMs: r.policy.listingMs,
            policyBoundMs: r.policy.boundMs,
            firstDeletionS: {
              interleaved: r.durable.firstDeletionS,
              grouped: r.grouped.firstDeletionS,
              policy: r.policy.firstDeletionS,
            },
            providerRequestsPerDeletion: {
              interleaved: r.durable.requestsPerDeletion,
              grouped: r.grouped.requestsPerDeletion,
              policy: r.policy.requestsPerDeletion,
              interleavedByType: r.durable.requestsPerDeletionByType,
            },
            maxConcurrencyObserved: r.maxConcurrencyObserved,
          })),
          histories: mkHist,
          perItem: mkPer,
        },
        throughput: tp && {
          items: sizes.throughput,
          durableMs: Math.round(tp.durableMs),
          rawMs: Math.round(tp.rawMs),
          histories: zlHist,
          perItem: zlPer,
        },
        big: big && { items: sizes.big, ms: Math.round(big.ms), histories: big.hist },
        worker: { peakRssMb, processEnv: workerEnv, rssPeakByPhase, rssSeries },
        cpuSecondsByPhase: cpuByPhase,
        metricsEndpoint: {
          outcomesTotal: metricSum(METRIC_NAMES.outcomes),
          retriesTotal: metricSum(METRIC_NAMES.retries),
          throttledTotal: metricSum(METRIC_NAMES.throttled),
        },
      },
    };
    const { pngNote } = await writeResults(ROOT, results);
    console.log(`\n${summary}\n`);
    for (const f of figures) {
      console.log(
        `  ${f.pass === undefined ? ' ' : f.pass ? '✓' : '✗'} ${f.figure}: ${f.value.toFixed(2)} ${f.unit} (goal ${f.goal})`,
      );
    }
    console.log(`\nwrote bench/results/latest.{json,md,svg${pngNote ? '' : ',png'}} and docs/benchmarks.md`);
    if (pngNote) console.log(`PNG chart skipped: ${pngNote}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
