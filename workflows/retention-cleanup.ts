/**
 * retentionCleanup: the run. Takes ONE JSON object (so the Web UI's Start Workflow form can start it),
 * validates it, resolves the accounts, splits the items into batches (child workflows of at most
 * BATCH_SIZE items), activates a few batches at a time, and returns a summary. The per-item outcome
 * list lives in the batches' results (see client/report.ts).
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  ParentClosePolicy,
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
import { BATCH_SIZE, cleanupBatch } from './cleanup-batch';
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
import { parseCleanupRequest, parseItemPage, type CleanupRequest } from './request';
import { SA } from './search-attributes';

/** Batches feeding lanes at once per run: bounds what one run holds in the lanes. */
export const ACTIVE_BATCHES = 4;
const PROBLEMS_IN_SUMMARY = 20;
const HISTORY_EVENTS_BEFORE_CONTINUE = 4_000;

interface BatchEntry {
  id: string;
  size: number;
  control: BatchControl;
  report?: BatchReport;
}

/** What continue-as-new hands to the next execution of a run: no items, only batch bookkeeping. */
export interface RunCarry {
  request: CleanupRequest;
  accounts: Record<string, AccountLimits>;
  batches: BatchEntry[];
  sealed: boolean;
  state: RunState;
  startedAt: string;
  cancelled: boolean;
}

const { resolveAccounts } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function retentionCleanup(rawRequest: unknown, carry?: RunCarry): Promise<RunSummary> {
  const workflowId = workflowInfo().workflowId;
  let request: CleanupRequest;
  if (carry) {
    request = carry.request;
  } else {
    const parsed = parseCleanupRequest(rawRequest);
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
  let sealed = carry?.sealed ?? !request.itemsToFollow;
  let state: RunState = carry?.state ?? 'starting';
  let cancelled = carry?.cancelled ?? false;
  const startedAt = carry?.startedAt ?? new Date().toISOString();
  let dirty = false;

  /** Resolves account names through the worker config; unknown names fail the caller, naming them. */
  const ensureAccounts = async (items: ItemRef[]) => {
    const missing = [...new Set(items.map((i) => i.account))].filter((a) => !accounts[a]);
    if (missing.length) Object.assign(accounts, await resolveAccounts({ names: missing }));
    upsertSearchAttributes([
      { key: SA.accounts, value: Object.keys(accounts).sort() },
      { key: SA.providers, value: [...new Set(Object.values(accounts).map((a) => a.provider))].sort() },
    ]);
  };

  const addBatches = async (items: ItemRef[]) => {
    // Merge duplicates within the page before splitting it, so a duplicate never lands in two batches.
    const seen = new Set<string>();
    const unique = items.filter((i) => !seen.has(itemKey(i)) && seen.add(itemKey(i)));
    for (let offset = 0; offset < unique.length; offset += BATCH_SIZE) {
      const page = unique.slice(offset, offset + BATCH_SIZE);
      const id = batchWorkflowId(workflowId, batches.length);
      const control: BatchControl =
        cancelled ? 'cancelled' : activeCount() < ACTIVE_BATCHES && state !== 'paused' ? 'active' : 'waiting';
      batches.push({ id, size: page.length, control });
      await startChild(cleanupBatch, {
        workflowId: id,
        args: [{ runWorkflowId: workflowId, items: page, accounts, dryRun: request.dryRun, control }],
        // Batches outlive a continue-as-new of the run; they report back by signal, not by completion.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    }
    dirty = true;
  };

  const activeCount = () => batches.filter((b) => b.control === 'active' && !b.report?.done).length;

  const setBatchControl = async (b: BatchEntry, control: BatchControl) => {
    b.control = control;
    await getExternalWorkflowHandle(b.id).signal(batchControlSignal, { state: control }).catch(() => undefined);
  };

  const progress = (): RunProgress => {
    const counts = emptyCounts();
    const perAccount: Record<string, AccountProgress> = {};
    let inFlight = 0;
    for (const b of batches) {
      if (!b.report) continue;
      addCounts(counts, b.report.counts);
      inFlight += b.report.inFlight;
      for (const [account, c] of Object.entries(b.report.perAccount)) {
        perAccount[account] ??= { provider: accounts[account]?.provider ?? 'unknown', counts: emptyCounts() };
        addCounts(perAccount[account].counts, c);
      }
    }
    const total = batches.reduce((n, b) => n + b.size, 0);
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
        done: batches.filter((b) => b.report?.done).length,
      },
      startedAt,
      ratePerMinute: Math.round(ratePerMinute * 10) / 10,
      etaSeconds: done && sealed ? Math.round(((total - done) / ratePerMinute) * 60) : null,
    };
  };

  setHandler(progressQuery, progress);
  setHandler(batchReportSignal, (r) => {
    const b = batches.find((x) => x.id === r.batchWorkflowId);
    if (b && totalOf(r.counts) >= totalOf(b.report?.counts ?? emptyCounts())) b.report = r;
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
    dirty = true;
  });
  setHandler(
    addItemsUpdate,
    async ({ items }) => {
      await ensureAccounts(items);
      await addBatches(items);
      return { accepted: items.length, total: batches.reduce((n, b) => n + b.size, 0) };
    },
    {
      validator: (arg) => {
        if (sealed) throw new Error('this run is sealed: no more items can be added (start a new run)');
        const parsed = parseItemPage(arg?.items);
        if (!parsed.ok) throw new Error(`invalid items: ${parsed.problems.join('; ')}`);
      },
    },
  );
  setHandler(sealItemsUpdate, () => {
    sealed = true;
    dirty = true;
    return { total: batches.reduce((n, b) => n + b.size, 0) };
  });

  if (!carry) {
    upsertSearchAttributes([{ key: SA.dryRun, value: request.dryRun }]);
    upsertMemo({ label: request.label ?? '', dryRun: request.dryRun });
    if (request.items?.length) {
      try {
        await ensureAccounts(request.items);
      } catch (err) {
        throw ApplicationFailure.create({
          type: 'UnknownAccount',
          nonRetryable: true,
          message: err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err),
        });
      }
      await addBatches(request.items);
    }
    state = 'running';
  }

  for (;;) {
    dirty = false;
    if (cancelled && state !== 'cancelling') {
      state = 'cancelling';
      for (const b of batches) if (!b.report?.done) await setBatchControl(b, 'cancelled');
    } else if (!cancelled) {
      for (const b of batches) {
        if (b.report?.done) continue;
        if (state === 'paused' && b.control === 'active') await setBatchControl(b, 'paused');
        if (state === 'running' && b.control === 'paused') await setBatchControl(b, 'active');
      }
      if (state === 'running') {
        for (const b of batches) {
          if (activeCount() >= ACTIVE_BATCHES) break;
          if (b.control === 'waiting') await setBatchControl(b, 'active');
        }
      }
    }
    const finished = sealed && batches.every((b) => b.report?.done);
    if (finished) break;

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_BEFORE_CONTINUE) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof retentionCleanup>(null, {
        request: { ...request, items: [] },
        accounts,
        batches,
        sealed,
        state,
        startedAt,
        cancelled,
      });
    }
    await condition(() => dirty);
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
  for (const a of Object.values(p.perAccount)) addCounts((perProvider[a.provider] ??= emptyCounts()), a.counts);
  const firstProblems: ItemOutcome[] = batches.flatMap((b) => b.report?.problems ?? []).slice(0, PROBLEMS_IN_SUMMARY);
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
    batchWorkflowIds: batches.map((b) => b.id),
    startedAt,
    finishedAt: new Date().toISOString(),
  };
}
