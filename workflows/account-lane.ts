/**
 * accountLane: one long-lived workflow per provider account (ID from laneWorkflowId) that owns the
 * account's concurrency window. Every run's batches feed it chunks through signal-with-start; the
 * lane serves batches round-robin, runs one deletion activity per item, and sends outcomes back to
 * each batch in small bundles. Because one workflow owns the window, the limit holds across all runs
 * and all worker processes (promise 2).
 */
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failedOutcomeFrom, NON_RETRYABLE_ERROR_TYPES } from './activity-failures';
import {
  enqueueSignal,
  laneBatchStateSignal,
  laneStatusQuery,
  outcomesSignal,
  setConcurrencyUpdate,
  type EnqueueRequest,
  type LaneBatchState,
} from './messages';
import { itemKey, type AccountLimits, type ItemOutcome, type ItemRef } from './model';

/** Outcomes are sent to a batch once this many are waiting... */
export const LANE_FLUSH_SIZE = 25;
/** ...or once the oldest has waited this long, or the batch has nothing left in the lane. */
const FLUSH_AFTER_MS = 3_000;
/** An idle lane ends after this long; the next enqueue starts it again. */
const IDLE_EXIT_MS = 60_000;
/** Continue-as-new well before Temporal's 10,240-event warning. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 3_000;

interface BatchQueue {
  state: LaneBatchState;
  items: ItemRef[];
  /** Keys queued or in flight: a chunk delivered twice is not deleted twice. */
  keys: Set<string>;
  /** Highest chunk sequence number seen, for the same reason. */
  lastChunk: number;
  inFlight: number;
  outbox: ItemOutcome[];
  oldestOutboxAt?: number;
}

export interface CarriedBatch {
  batchWorkflowId: string;
  state: LaneBatchState;
  items: ItemRef[];
  lastChunk: number;
}

export interface LaneInput {
  account: string;
  limits: AccountLimits;
  /** State handed over by continue-as-new. */
  carried?: { batches: CarriedBatch[]; concurrencyOverride?: number };
}

export async function accountLane(input: LaneInput): Promise<void> {
  let limits = input.limits;
  let concurrencyOverride = input.carried?.concurrencyOverride;
  const batches = new Map<string, BatchQueue>();
  let rrCursor = 0;
  let inFlight = 0;
  let completed = 0;
  let dirty = false;
  const recentStarts: number[] = [];
  const sends = new Set<Promise<void>>();

  const concurrency = () => Math.min(concurrencyOverride ?? limits.maxConcurrent, limits.maxConcurrent);

  const queueFor = (batchWorkflowId: string): BatchQueue => {
    let q = batches.get(batchWorkflowId);
    if (!q) {
      q = { state: 'active', items: [], keys: new Set(), lastChunk: -1, inFlight: 0, outbox: [] };
      batches.set(batchWorkflowId, q);
    }
    return q;
  };

  const enqueue = (req: EnqueueRequest) => {
    limits = req.limits;
    const q = queueFor(req.batchWorkflowId);
    if (req.chunk <= q.lastChunk) return; // redelivered chunk (the enqueue activity was retried)
    q.lastChunk = req.chunk;
    for (const item of req.items) {
      const key = itemKey(item);
      if (q.keys.has(key)) continue;
      q.keys.add(key);
      q.items.push(item);
    }
    dirty = true;
  };

  for (const b of input.carried?.batches ?? []) {
    const q = queueFor(b.batchWorkflowId);
    q.state = b.state;
    q.lastChunk = b.lastChunk;
    for (const item of b.items) {
      q.keys.add(itemKey(item));
      q.items.push(item);
    }
  }

  const record = (batchWorkflowId: string, outcome: Omit<ItemOutcome, 'at'>) => {
    const q = queueFor(batchWorkflowId);
    q.outbox.push({ ...outcome, at: new Date().toISOString() });
    q.oldestOutboxAt ??= Date.now();
    dirty = true;
  };

  setHandler(enqueueSignal, enqueue);
  setHandler(laneBatchStateSignal, ({ batchWorkflowId, state }) => {
    const q = queueFor(batchWorkflowId);
    q.state = state;
    if (state === 'cancelled') {
      // Queued items of a cancelled run are never started; in-flight ones finish and report normally.
      for (const item of q.items.splice(0)) {
        q.keys.delete(itemKey(item));
        record(batchWorkflowId, { ...item, outcome: 'skipped', reason: 'run cancelled before this item was started' });
      }
    }
    dirty = true;
  });
  setHandler(
    setConcurrencyUpdate,
    ({ concurrency: n }) => {
      concurrencyOverride = n;
      dirty = true;
      return { concurrency: concurrency(), max: limits.maxConcurrent };
    },
    {
      validator: ({ concurrency: n }) => {
        if (!Number.isInteger(n) || n < 1 || n > limits.maxConcurrent) {
          throw new Error(
            `concurrency: must be a whole number from 1 to ${limits.maxConcurrent} (the account's configured maxConcurrent)`,
          );
        }
      },
    },
  );
  setHandler(laneStatusQuery, () => ({
    account: input.account,
    concurrency: concurrency(),
    maxConcurrent: limits.maxConcurrent,
    inFlight,
    queued: Object.fromEntries([...batches].map(([id, q]) => [id, q.items.length])),
    completedThisExecution: completed,
  }));

  /** Milliseconds until the rate limit allows another delete call (0 = now). */
  const rateWaitMs = (): number => {
    const burst = Math.max(1, Math.floor(limits.requestsPerSecond));
    const windowMs = (burst / limits.requestsPerSecond) * 1000;
    const now = Date.now();
    while (recentStarts.length && recentStarts[0]! <= now - windowMs) recentStarts.shift();
    return recentStarts.length < burst ? 0 : recentStarts[0]! + windowMs - now;
  };

  /** Round-robin over batches, so one big run cannot starve a small one. */
  const nextItem = (): { batchWorkflowId: string; item: ItemRef } | undefined => {
    const ids = [...batches.keys()];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[(rrCursor + i) % ids.length]!;
      const q = batches.get(id)!;
      if (q.state === 'active' && q.items.length) {
        rrCursor = (rrCursor + i + 1) % ids.length;
        return { batchWorkflowId: id, item: q.items.shift()! };
      }
    }
    return undefined;
  };

  const { deleteBackup } = proxyActivities<Activities>({
    // The deadline covers every attempt: past it the item ends `failed`, never hangs.
    scheduleToCloseTimeout: limits.deletionDeadlineMs,
    // A worker that dies mid-deletion is noticed within this time; the retry resumes from heartbeat details.
    heartbeatTimeout: Math.max(30_000, 3 * limits.pollIntervalMs),
    retry: {
      initialInterval: limits.retryInitialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: limits.retryMaxIntervalMs,
      maximumAttempts: limits.maxAttempts,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  });

  const start = (batchWorkflowId: string, item: ItemRef) => {
    const q = queueFor(batchWorkflowId);
    inFlight++;
    q.inFlight++;
    recentStarts.push(Date.now());
    deleteBackup({ item, pollIntervalMs: limits.pollIntervalMs })
      .then(
        (outcome) => record(batchWorkflowId, outcome),
        (err: unknown) => record(batchWorkflowId, failedOutcomeFrom(item, err)),
      )
      .finally(() => {
        inFlight--;
        q.inFlight--;
        q.keys.delete(itemKey(item));
        completed++;
        dirty = true;
      })
      .catch(() => undefined);
  };

  const flush = (batchWorkflowId: string, q: BatchQueue) => {
    const outcomes = q.outbox.splice(0);
    q.oldestOutboxAt = undefined;
    const p = getExternalWorkflowHandle(batchWorkflowId)
      .signal(outcomesSignal, { outcomes })
      .catch((err: unknown) => {
        // The batch is gone (terminated by an operator): nobody is left to tell.
        log.warn('could not deliver outcomes to batch', { batchWorkflowId, count: outcomes.length, error: String(err) });
      })
      .finally(() => sends.delete(p));
    sends.add(p);
  };

  /** Sends due outbox bundles; returns ms until the next one falls due (Infinity if none). */
  const flushDue = (force: boolean): number => {
    let nextDue = Infinity;
    const now = Date.now();
    for (const [id, q] of batches) {
      if (!q.outbox.length) continue;
      const idle = q.items.length === 0 && q.inFlight === 0;
      const due = (q.oldestOutboxAt ?? now) + FLUSH_AFTER_MS;
      if (force || idle || q.outbox.length >= LANE_FLUSH_SIZE || due <= now) flush(id, q);
      else nextDue = Math.min(nextDue, due - now);
    }
    for (const [id, q] of batches) {
      if (!q.items.length && !q.inFlight && !q.outbox.length) batches.delete(id);
    }
    return nextDue;
  };

  for (;;) {
    const info = workflowInfo();
    const draining = info.continueAsNewSuggested || info.historyLength > HISTORY_EVENTS_BEFORE_CONTINUE;
    let wakeInMs = Infinity;
    while (!draining && inFlight < concurrency()) {
      const wait = rateWaitMs();
      if (wait > 0) {
        if ([...batches.values()].some((q) => q.state === 'active' && q.items.length)) wakeInMs = wait;
        break;
      }
      const next = nextItem();
      if (!next) break;
      start(next.batchWorkflowId, next.item);
    }
    wakeInMs = Math.min(wakeInMs, flushDue(draining));

    if (draining && inFlight === 0) {
      await Promise.all([...sends]);
      await condition(allHandlersFinished);
      const carried: CarriedBatch[] = [...batches]
        .filter(([, q]) => q.items.length)
        .map(([batchWorkflowId, q]) => ({ batchWorkflowId, state: q.state, items: q.items, lastChunk: q.lastChunk }));
      await continueAsNew<typeof accountLane>({ account: input.account, limits, carried: { batches: carried, concurrencyOverride } });
    }

    const idle = inFlight === 0 && batches.size === 0;
    dirty = false;
    if (idle) {
      await Promise.all([...sends]);
      if (!(await condition(() => dirty, IDLE_EXIT_MS)) && batches.size === 0) {
        await condition(allHandlersFinished);
        return;
      }
      continue;
    }
    if (wakeInMs === Infinity) await condition(() => dirty);
    else await condition(() => dirty, Math.max(1, Math.ceil(wakeInMs)));
  }
}
