/**
 * retentionCleanup: the run. Takes ONE JSON object (so the Web UI's Start Workflow form can start it),
 * validates it, resolves the accounts, splits the items into batches (child workflows of at most
 * BATCH_SIZE items), activates a few batches at a time, and returns a summary. The per-item outcome
 * list lives in the batches' results (see client/retention-client.ts, report()).
 *
 * What the run keeps is bounded by design: per batch only its size and control state (its workflow
 * ID follows from its index); the latest cumulative report only for batches still working; finished
 * batches are folded into one running total. So the continue-as-new input stays small whatever the
 * run's size (about 50 bytes per batch, i.e. per 500 items).
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from './activity-failures';
import { ACTIVE_BATCHES, BATCH_SIZE, cleanupBatch } from './cleanup-batch';
import {
  accountsCovered,
  busyAccounts,
  gainOf,
  interleaveByAccount,
  nextBatchToActivate,
} from './batch-planning';
import { batchWorkflowId } from './ids';
import {
  addItemsUpdate,
  batchControlSignal,
  batchReportSignal,
  cancelSignal,
  pauseSignal,
  progressQuery,
  resumeSignal,
  sealItemsUpdate,
  type AccountPlanSummary,
  type AccountProgress,
  type BatchControl,
  type BatchReport,
  type RunProgress,
  type RunState,
  type RunSummary,
} from './messages';
import {
  addCounts,
  emptyCounts,
  itemKey,
  totalOf,
  type AccountLimits,
  type ItemOutcome,
  type ItemRef,
  type OutcomeCounts,
} from './model';
import type { CleanupRequest } from './request';
import type * as RequestModule from './request';
import { SA } from './search-attributes';

export { ACTIVE_BATCHES };

/**
 * The request's zod schemas, loaded on first use. The worker evaluates the bundle's modules afresh for
 * every workflow execution it creates (module state is per execution), and loading zod and building
 * the schemas took about 10 ms of the single workflow thread each time: paid by every lane and batch,
 * which never validate a request, it was most of a run's start-up (docs/benchmarks.md).
 */
const requestModule = (): typeof RequestModule =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose, see above
  require('./request') as typeof RequestModule;
const PROBLEMS_IN_SUMMARY = 20;
/** Continue-as-new well before the 10,240-event warning (a run spends about 50 events per batch). */
export const HISTORY_EVENTS_BEFORE_CONTINUE = 4_000;
/** Patch id: runs recorded before account-aware activation activate waiting batches in index order. */
const ACCOUNT_AWARE_ACTIVATION = 'account-aware-activation';

/** One batch as the run tracks it; its workflow ID is batchWorkflowId(run, index). */
interface BatchEntry {
  size: number;
  control: BatchControl;
  /** Its final report has arrived and was folded into `finished`. */
  done?: boolean;
  /** The latest cumulative report, kept only while the batch works. */
  report?: BatchReport;
  /** Indexes into the run's accounts of the accounts its items cover (see batch-planning.ts); dropped when done. */
  accounts?: number[];
}

/** Outcome totals of the batches that are done. */
interface Finished {
  counts: OutcomeCounts;
  perAccount: Record<string, OutcomeCounts>;
  /** The first PROBLEMS_IN_SUMMARY failed/blocked items. */
  problems: ItemOutcome[];
}

/** What continue-as-new hands to the next execution of a run: no items, only batch bookkeeping. */
export interface RunCarry {
  request: CleanupRequest;
  accounts: Record<string, AccountLimits>;
  batches: BatchEntry[];
  finished: Finished;
  sealed: boolean;
  state: RunState;
  startedAt: string;
  cancelled: boolean;
  plan?: AccountPlanSummary[];
  guardViolations?: string[];
}

const { resolveAccounts } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

/** Listing a large account pages through the provider API; heartbeats show it is alive. */
const { planAccount } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '2m',
  retry: { maximumAttempts: 10, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function retentionCleanup(rawRequest: unknown, carry?: RunCarry): Promise<RunSummary> {
  const workflowId = workflowInfo().workflowId;
  let request: CleanupRequest;
  if (carry) {
    request = carry.request;
  } else {
    const parsed = requestModule().parseCleanupRequest(rawRequest);
    if (!parsed.ok) {
      throw ApplicationFailure.create({
        type: 'InvalidRequest',
        nonRetryable: true,
        message: `invalid cleanup request: ${parsed.problems.join('; ')}`,
        details: parsed.problems,
      });
    }
    request = parsed.value;
  }

  const accounts: Record<string, AccountLimits> = carry?.accounts ?? {};
  const batches: BatchEntry[] = carry?.batches ?? [];
  const finished: Finished = carry?.finished ?? { counts: emptyCounts(), perAccount: {}, problems: [] };
  const idOf = (n: number) => batchWorkflowId(workflowId, n);
  const totalItems = () => batches.reduce((n, b) => n + b.size, 0);
  // A policy run is sealed once discovery has handed over every planned item.
  let sealed = carry?.sealed ?? !(request.itemsToFollow || request.policy);
  let discovering = false;
  let plan = carry?.plan;
  let guardViolations = carry?.guardViolations;
  let state: RunState = carry?.state ?? 'starting';
  let cancelled = carry?.cancelled ?? false;
  const startedAt = carry?.startedAt ?? new Date().toISOString();
  let dirty = false;

  /** Resolves account names through the worker config; unknown names fail the caller, naming them. */
  const ensureAccounts = async (items: Pick<ItemRef, 'account'>[]) => {
    const missing = [...new Set(items.map((i) => i.account))].filter((a) => !accounts[a]);
    if (!missing.length) return;
    try {
      Object.assign(accounts, await resolveAccounts({ names: missing }));
    } catch (err) {
      // The activity's own message names the unknown accounts and the known ones: pass it on as is.
      throw ApplicationFailure.create({
        type: 'UnknownAccount',
        nonRetryable: true,
        message: err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err),
      });
    }
    // Only when the set changes: one history event each, not one per page.
    upsertSearchAttributes([
      { key: SA.accounts, value: Object.keys(accounts).sort() },
      { key: SA.providers, value: [...new Set(Object.values(accounts).map((a) => a.provider))].sort() },
    ]);
  };

  const addBatches = async (items: ItemRef[]) => {
    // Merge duplicates within the page before splitting it, so a duplicate never lands in two batches.
    const seen = new Set<string>();
    const unique = interleaveByAccount(items.filter((i) => !seen.has(itemKey(i)) && seen.add(itemKey(i))));
    for (let offset = 0; offset < unique.length; offset += BATCH_SIZE) {
      const page = unique.slice(offset, offset + BATCH_SIZE);
      const covered = accountsCovered(page, Object.keys(accounts));
      const n = batches.length;
      // While discovery runs, batches wait: nothing is deleted before the whole plan passed the guards,
      // and the listing a retried discovery re-reads stays the one it planned.
      const control: BatchControl = cancelled
        ? 'cancelled'
        : !discovering && activeCount() < ACTIVE_BATCHES && state !== 'paused' && bringsIdleOrSealed(covered)
          ? 'active'
          : 'waiting';
      batches.push({ size: page.length, control, ...(covered ? { accounts: covered } : {}) });
      await startChild(cleanupBatch, {
        workflowId: idOf(n),
        args: [{ runWorkflowId: workflowId, items: page, accounts, dryRun: request.dryRun, control }],
        // Batches outlive a continue-as-new of the run; they report back by signal, not by completion.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        memo: { run: workflowId, batch: n, items: page.length },
      });
    }
    dirty = true;
  };

  const activeCount = () => batches.filter((b) => b.control === 'active' && !b.done).length;
  /** While items still arrive, a new batch starts at once only if it makes idle accounts busy. */
  const bringsIdleOrSealed = (covered: number[] | undefined) =>
    !patched(ACCOUNT_AWARE_ACTIVATION) || sealed || gainOf(covered, busyAccounts(batches)) > 0;

  const setBatchControl = async (n: number, control: BatchControl) => {
    batches[n]!.control = control;
    await getExternalWorkflowHandle(idOf(n))
      .signal(batchControlSignal, { state: control })
      .catch(() => undefined);
  };

  const progress = (): RunProgress => {
    const counts = addCounts(emptyCounts(), finished.counts);
    const perAccount: Record<string, AccountProgress> = {};
    const addAccount = (account: string, c: OutcomeCounts) => {
      perAccount[account] ??= { provider: accounts[account]?.provider ?? 'unknown', counts: emptyCounts() };
      addCounts(perAccount[account].counts, c);
    };
    for (const [account, c] of Object.entries(finished.perAccount)) addAccount(account, c);
    let inFlight = 0;
    for (const b of batches) {
      if (!b.report) continue;
      addCounts(counts, b.report.counts);
      inFlight += b.report.inFlight;
      for (const [account, c] of Object.entries(b.report.perAccount)) addAccount(account, c);
    }
    const total = totalItems();
    const done = totalOf(counts);
    const minutes = Math.max((Date.now() - Date.parse(startedAt)) / 60_000, 1 / 60);
    const ratePerMinute = done / minutes;
    return {
      workflowId,
      state,
      dryRun: request.dryRun,
      ...(request.label ? { label: request.label } : {}),
      total,
      counts,
      done,
      inFlight,
      perAccount,
      batches: {
        total: batches.length,
        active: activeCount(),
        done: batches.filter((b) => b.done).length,
      },
      startedAt,
      ratePerMinute: Math.round(ratePerMinute * 10) / 10,
      etaSeconds: done && sealed ? Math.round(((total - done) / ratePerMinute) * 60) : null,
    };
  };

  setHandler(progressQuery, progress);
  setHandler(batchReportSignal, (r) => {
    const prefix = `${workflowId}/batch-`;
    const n = r.batchWorkflowId.startsWith(prefix) ? Number(r.batchWorkflowId.slice(prefix.length)) : NaN;
    const b = batches[n];
    // Reports are cumulative: a repeated or older one is ignored, and a done batch is counted once.
    if (!b || b.done || totalOf(r.counts) < totalOf(b.report?.counts ?? emptyCounts())) return;
    if (r.done) {
      addCounts(finished.counts, r.counts);
      for (const [account, c] of Object.entries(r.perAccount))
        addCounts((finished.perAccount[account] ??= emptyCounts()), c);
      finished.problems.push(...r.problems.slice(0, PROBLEMS_IN_SUMMARY - finished.problems.length));
      b.done = true;
      delete b.report;
      delete b.accounts;
    } else b.report = r;
    dirty = true;
  });
  setHandler(pauseSignal, () => {
    if (state === 'running' || state === 'starting') state = 'paused';
    dirty = true;
  });
  setHandler(resumeSignal, () => {
    if (state === 'paused') state = 'running';
    dirty = true;
  });
  setHandler(cancelSignal, () => {
    cancelled = true;
    // A cancelled run takes no more items, so it must not wait for a seal that may never come.
    sealed = true;
    dirty = true;
  });
  setHandler(
    addItemsUpdate,
    async ({ items }) => {
      await ensureAccounts(items);
      await addBatches(items);
      return { accepted: items.length, total: totalItems() };
    },
    {
      validator: (arg) => {
        if (cancelled)
          throw new Error('this run was cancelled: no more items can be added (start a new run)');
        if (sealed) throw new Error('this run is sealed: no more items can be added (start a new run)');
        const parsed = requestModule().parseItemPage(arg?.items);
        if (!parsed.ok) throw new Error(`invalid items: ${parsed.problems.join('; ')}`);
      },
    },
  );
  setHandler(sealItemsUpdate, () => {
    if (!sealed) upsertSearchAttributes([{ key: SA.total, value: totalItems() }]);
    sealed = true;
    dirty = true;
    return { total: totalItems() };
  });

  /**
   * Policy runs: plan every account (listing through the provider API), check the guards over the
   * whole plan, then let discovery hand the planned items over through addItems. An executed run that
   * would cross a guard stops here, before anything is deleted; a dry run reports the violations.
   */
  const discover = async (policyRequest: NonNullable<CleanupRequest['policy']>) => {
    const { accounts: names, ...policy } = policyRequest;
    await ensureAccounts(names.map((account) => ({ account })));
    discovering = true;
    const now = new Date().toISOString();
    const guards = request.guards;
    const base = {
      runWorkflowId: workflowId,
      policy,
      now,
      dryRun: request.dryRun,
      ...(guards ? { guards } : {}),
    };
    const planned = await Promise.all(
      names.map((a) => planAccount({ ...base, limits: accounts[a]!, emit: false })),
    );
    plan = planned.map(({ account, listed, toDelete, kept, groups }) => ({
      account,
      listed,
      toDelete,
      kept,
      groups,
    }));
    const violations = planned.flatMap((r) => r.violations.map((v) => v.message));
    const toDelete = planned.reduce((n, r) => n + r.toDelete, 0);
    if (guards?.maxDeletions !== undefined && toDelete > guards.maxDeletions) {
      violations.unshift(
        `maxDeletions: the plan would delete ${toDelete} backups over all accounts (limit ${guards.maxDeletions}); ${toDelete - guards.maxDeletions} over`,
      );
    }
    if (violations.length && !request.dryRun) {
      throw ApplicationFailure.create({
        type: 'GuardViolation',
        nonRetryable: true,
        message: `stopped before deleting anything: ${violations.join('; ')}`,
        details: violations,
      });
    }
    guardViolations = violations;
    for (const a of names) await planAccount({ ...base, limits: accounts[a]!, emit: true });
    discovering = false;
    sealed = true;
    upsertSearchAttributes([{ key: SA.total, value: totalItems() }]);
    dirty = true;
  };

  if (!carry) {
    // Search attributes and memo at the start, so a running run can be found in the Web UI by
    // account, provider, dry run and size; the end adds the outcome counts.
    upsertSearchAttributes([{ key: SA.dryRun, value: request.dryRun }]);
    upsertMemo({ label: request.label ?? '', dryRun: request.dryRun });
    if (request.items?.length) {
      await ensureAccounts(request.items);
      await addBatches(request.items);
    }
    if (request.policy) await discover(request.policy);
    if (sealed) upsertSearchAttributes([{ key: SA.total, value: totalItems() }]);
    if (state === 'starting') state = 'running'; // a pause that arrived meanwhile stands
  }

  for (;;) {
    dirty = false;
    const signals: Promise<void>[] = [];
    if (cancelled && state !== 'cancelling') {
      state = 'cancelling';
      batches.forEach((b, n) => {
        if (!b.done && b.control !== 'cancelled') signals.push(setBatchControl(n, 'cancelled'));
      });
    } else if (!cancelled) {
      batches.forEach((b, n) => {
        if (b.done) return;
        if (state === 'paused' && b.control === 'active') signals.push(setBatchControl(n, 'paused'));
        if (state === 'running' && b.control === 'paused') signals.push(setBatchControl(n, 'active'));
      });
      if (state === 'running' && patched(ACCOUNT_AWARE_ACTIVATION)) {
        // The waiting batch that brings the most idle accounts first (workflows/batch-planning.ts).
        const next = () => (activeCount() < ACTIVE_BATCHES ? nextBatchToActivate(batches, !sealed) : -1);
        for (let n = next(); n >= 0; n = next()) signals.push(setBatchControl(n, 'active'));
      } else if (state === 'running') {
        for (let n = 0; n < batches.length && activeCount() < ACTIVE_BATCHES; n++) {
          if (batches[n]!.control === 'waiting') signals.push(setBatchControl(n, 'active'));
        }
      }
    }
    await Promise.all(signals);
    if (sealed && batches.every((b) => b.done)) break;

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_BEFORE_CONTINUE) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof retentionCleanup>(null, {
        request: { ...request, items: [] },
        ...(plan ? { plan } : {}),
        ...(guardViolations ? { guardViolations } : {}),
        accounts,
        batches,
        finished,
        sealed,
        state,
        startedAt,
        cancelled,
      });
    }
    if (!dirty) await condition(() => dirty);
  }
  await condition(allHandlersFinished);

  state = 'completed';
  const p = progress();
  upsertSearchAttributes([
    { key: SA.deleted, value: p.counts.deleted },
    { key: SA.problems, value: p.counts.failed + p.counts.blocked },
    { key: SA.total, value: p.total },
  ]);
  const perProvider: Record<string, OutcomeCounts> = {};
  for (const a of Object.values(p.perAccount))
    addCounts((perProvider[a.provider] ??= emptyCounts()), a.counts);
  const firstProblems: ItemOutcome[] = finished.problems.slice(0, PROBLEMS_IN_SUMMARY);
  const finishedAt = new Date().toISOString();
  upsertMemo({ counts: p.counts, cancelled, finishedAt });
  return {
    workflowId,
    dryRun: request.dryRun,
    ...(request.label ? { label: request.label } : {}),
    cancelled,
    total: p.total,
    counts: p.counts,
    perAccount: p.perAccount,
    perProvider,
    firstProblems,
    ...(plan ? { plan } : {}),
    ...(guardViolations?.length ? { guardViolations } : {}),
    batchWorkflowIds: batches.map((_, n) => idOf(n)),
    startedAt,
    finishedAt,
  };
}
