/**
 * cleanupBatch: one page (at most BATCH_SIZE items) of a run. It feeds its items to the account lanes
 * in chunks with backpressure, collects exactly one outcome per item, reports cumulative progress to
 * its run, and returns the full per-item outcome list as its result (the run's report is read from
 * these results, so no history carries a whole run's outcomes).
 *
 * A lane that disappears (terminated by an operator, or reset) would leave the batch waiting forever
 * for the items it held. So the batch watches each lane it has items in: after laneSilenceMs without
 * any outcome from it, it re-sends its open items for that account (signal-with-start, so a lane that
 * is gone is started again). A live lane ignores every item it already holds, so the re-send is
 * harmless; it costs one activity and one signal per silence period.
 */
import {
  condition,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from './activity-failures';
import { laneWorkflowId } from './ids';
import {
  batchControlSignal,
  batchProgressQuery,
  batchReportSignal,
  laneBatchStateSignal,
  outcomesSignal,
  returnItemsSignal,
  type BatchControl,
  type BatchReport,
  type LaneBatchState,
} from './messages';
import {
  emptyCounts,
  itemKey,
  type AccountLimits,
  type ItemOutcome,
  type ItemRef,
  type OutcomeCounts,
} from './model';

/** Items per batch: keeps a batch's input and result payloads well below 256 KB. */
export const BATCH_SIZE = 500;
/** Batches feeding lanes at once per run: bounds what one run holds in the lanes. */
export const ACTIVE_BATCHES = 4;
/** Failed/blocked items reported to the run in full (the rest only counted). */
const PROBLEMS_REPORTED = 10;
/** Progress is reported to the run every 10% of the batch, or this often while outcomes arrive. */
const REPORT_INTERVAL_MS = 5_000;

/**
 * Items a batch may have waiting or running in one lane at once (backpressure). Sized so that the
 * run's ACTIVE_BATCHES batches together hold twice the account's concurrency (the window stays full
 * while chunks are refilled), at least 50 so chunks stay big enough to be cheap (one activity and one
 * signal per chunk), at most 250 so a lane's queue, and what it carries across continue-as-new, stays
 * small.
 */
export function laneWindow(limits: AccountLimits): number {
  return Math.min(250, Math.max(50, Math.ceil((2 * limits.maxConcurrent) / ACTIVE_BATCHES)));
}

/** Items sent to a lane per enqueue: half the window, so it is refilled when half has drained. */
export function chunkSize(limits: AccountLimits): number {
  return Math.ceil(laneWindow(limits) / 2);
}

/**
 * How long a lane may stay silent (no outcome for this batch) before the batch re-sends its open
 * items: a quarter of the deletion deadline, between 15 s and 10 minutes. A silence is normal while
 * deletions are slow (CSBS: up to 30 minutes) and costs only a re-send that the live lane ignores.
 */
export function laneSilenceMs(limits: AccountLimits): number {
  return Math.min(10 * 60_000, Math.max(15_000, Math.floor(limits.deletionDeadlineMs / 4)));
}

export interface BatchInput {
  runWorkflowId: string;
  items: ItemRef[];
  accounts: Record<string, AccountLimits>;
  dryRun: boolean;
  /** 'waiting' batches start when the run activates them; this bounds the work a run puts in lanes. */
  control: BatchControl;
}

export interface BatchResult {
  batchWorkflowId: string;
  counts: OutcomeCounts;
  outcomes: ItemOutcome[];
}

const { enqueueToLane } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

export async function cleanupBatch(input: BatchInput): Promise<BatchResult> {
  const batchWorkflowId = workflowInfo().workflowId;
  let control: BatchControl = input.control;
  let dirty = false;

  const outcomes = new Map<string, ItemOutcome>();
  const counts = emptyCounts();
  const perAccount: Record<string, OutcomeCounts> = {};
  const problems: ItemOutcome[] = [];
  const pending = new Map<string, ItemRef[]>(); // account → not yet sent
  const open = new Map<string, Map<string, ItemRef>>(); // account → sent, no outcome yet
  const chunkSeq = new Map<string, number>();
  const lastHeard = new Map<string, number>(); // account → last outcome from its lane, or last enqueue
  // Duplicate items in one request are merged: the first occurrence stands for all.
  const expected = new Map<string, ItemRef>();
  const items = input.items.filter((item) => {
    const key = itemKey(item);
    if (expected.has(key)) return false;
    expected.set(key, item);
    return true;
  });
  for (const item of items) {
    if (!pending.has(item.account)) pending.set(item.account, []);
    pending.get(item.account)!.push(item);
    open.set(item.account, new Map());
  }

  const accept = (o: ItemOutcome): boolean => {
    const key = itemKey(o);
    const item = expected.get(key);
    if (!item || outcomes.has(key)) return false; // duplicates and strays are ignored: one outcome per item
    // Lanes know only the provider ids; the policy's group and decision come from our own item.
    if (item.group) o = { ...o, group: item.group };
    if (item.plan) o = { ...o, plan: item.plan };
    outcomes.set(key, o);
    open.get(o.account)?.delete(key);
    counts[o.outcome]++;
    (perAccount[o.account] ??= emptyCounts())[o.outcome]++;
    if ((o.outcome === 'failed' || o.outcome === 'blocked') && problems.length < PROBLEMS_REPORTED)
      problems.push(o);
    dirty = true;
    return true;
  };

  const openCount = () => [...open.values()].reduce((n, m) => n + m.size, 0);
  const report = (): BatchReport => ({
    batchWorkflowId,
    total: items.length,
    counts: { ...counts },
    perAccount: Object.fromEntries(Object.entries(perAccount).map(([a, c]) => [a, { ...c }])),
    inFlight: openCount(),
    problems: [...problems],
    done: outcomes.size === items.length,
  });

  setHandler(outcomesSignal, ({ outcomes: list }) => {
    const now = Date.now();
    for (const o of list) {
      accept(o);
      lastHeard.set(o.account, now); // any word from the lane proves it is alive
    }
    dirty = true;
  });
  // Items a lane gave back unstarted (to bound its continue-as-new input): pending again, sent later.
  setHandler(returnItemsSignal, ({ items: list }) => {
    const now = Date.now();
    for (const item of [...list].reverse()) {
      const key = itemKey(item);
      const m = open.get(item.account);
      lastHeard.set(item.account, now);
      const sent = m?.get(key);
      if (outcomes.has(key) || !sent) continue;
      m!.delete(key);
      pending.get(item.account)!.unshift(sent);
    }
    dirty = true;
  });
  setHandler(batchControlSignal, ({ state }) => {
    if (control !== 'cancelled') control = state;
    dirty = true;
  });
  setHandler(batchProgressQuery, report);

  let lastReported = -1;
  let lastReportAt = 0;
  const reportEvery = Math.max(10, Math.ceil(items.length / 10));
  const sendReport = async (force: boolean) => {
    const fresh = outcomes.size - lastReported;
    if (!force && (fresh <= 0 || (fresh < reportEvery && Date.now() - lastReportAt < REPORT_INTERVAL_MS)))
      return;
    lastReported = outcomes.size;
    lastReportAt = Date.now();
    await getExternalWorkflowHandle(input.runWorkflowId)
      .signal(batchReportSignal, report())
      .catch((err: unknown) => log.warn('run did not take the batch report', { error: String(err) }));
  };

  const tellLanes = async (state: LaneBatchState) => {
    const accounts = [...open].filter(([, m]) => m.size > 0).map(([a]) => a);
    await Promise.all(
      accounts.map((a) =>
        getExternalWorkflowHandle(laneWorkflowId(a))
          .signal(laneBatchStateSignal, { batchWorkflowId, state })
          // A lane that is not running holds nothing of ours any more; the silence watchdog re-sends.
          .catch(() => undefined),
      ),
    );
  };

  const sendToLane = async (account: string, chunk: ItemRef[], resend?: { state: LaneBatchState }) => {
    const seq = (chunkSeq.get(account) ?? -1) + 1;
    chunkSeq.set(account, seq);
    const m = open.get(account)!;
    for (const item of chunk) m.set(itemKey(item), item);
    await enqueueToLane({
      batchWorkflowId,
      chunk: seq,
      items: chunk,
      limits: input.accounts[account]!,
      ...(resend ? { state: resend.state, resend: true } : {}),
    });
    lastHeard.set(account, Date.now());
  };

  // The silence watchdog's timer: at most one pending, never cancelled (see laneSilenceMs).
  let watchdogDue: number | undefined;
  const armWatchdog = (due: number) => {
    if (watchdogDue !== undefined && watchdogDue <= due) return;
    watchdogDue = due;
    sleep(Math.max(1, due - Date.now()))
      .then(() => {
        if (watchdogDue === due) watchdogDue = undefined;
        dirty = true;
      })
      .catch(() => undefined);
  };

  if (input.dryRun) {
    for (const item of items)
      accept({ ...item, outcome: 'skipped', reason: dryRunReason(item), at: new Date().toISOString() });
  }

  let laneState: LaneBatchState = 'active';
  while (outcomes.size < items.length) {
    dirty = false;
    if (control === 'cancelled') {
      for (const [, list] of pending) {
        for (const item of list.splice(0)) {
          accept({
            ...item,
            outcome: 'skipped',
            reason: 'run cancelled before this item was sent',
            at: new Date().toISOString(),
          });
        }
      }
      if (laneState !== 'cancelled') {
        laneState = 'cancelled';
        await tellLanes('cancelled');
      }
    } else if (control === 'paused') {
      if (laneState !== 'paused') {
        laneState = 'paused';
        await tellLanes('paused');
      }
    } else if (control === 'active') {
      if (laneState === 'paused') {
        laneState = 'active';
        await tellLanes('active');
        // Silence while paused was expected: the watchdog counts from the resume.
        for (const a of open.keys()) lastHeard.set(a, Date.now());
      }
      const sends: Promise<void>[] = [];
      for (const [account, list] of pending) {
        const limits = input.accounts[account]!;
        const out = open.get(account)!.size;
        if (!list.length || out > laneWindow(limits) - chunkSize(limits)) continue;
        sends.push(sendToLane(account, list.splice(0, chunkSize(limits))));
      }
      if (sends.length) {
        await Promise.all(sends);
        continue;
      }
    }

    if (control === 'active' || control === 'cancelled') {
      // The watchdog: re-send to lanes that have been silent too long (see the module comment).
      let next = Infinity;
      const resends: Promise<void>[] = [];
      for (const [account, m] of open) {
        if (!m.size) continue;
        const due = (lastHeard.get(account) ?? Date.now()) + laneSilenceMs(input.accounts[account]!);
        if (due <= Date.now()) {
          log.warn('lane silent too long: re-sending open items', { account, items: m.size });
          resends.push(sendToLane(account, [...m.values()], { state: laneState }));
        } else next = Math.min(next, due);
      }
      if (resends.length) {
        await Promise.all(resends);
        continue;
      }
      if (next < Infinity) armWatchdog(next);
    }

    await sendReport(false);
    if (outcomes.size < items.length && !dirty) await condition(() => dirty);
  }
  await sendReport(true);

  return { batchWorkflowId, counts, outcomes: items.map((i) => outcomes.get(itemKey(i))!) };
}

/** A dry run says what would happen to the item; policy runs also name the deciding rule. */
function dryRunReason(item: ItemRef): string {
  if (!item.plan) return 'dry run: nothing deleted';
  return item.plan.startsWith('keep: ')
    ? `kept by policy (${item.plan.slice(6)})`
    : `dry run: would delete (${item.plan.replace(/^delete: /, '')})`;
}
