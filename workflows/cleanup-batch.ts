/**
 * cleanupBatch: one page (at most BATCH_SIZE items) of a run. It feeds its items to the account lanes
 * in small chunks with backpressure, collects exactly one outcome per item, reports cumulative
 * progress to its run, and returns the full per-item outcome list as its result (the run's report is
 * read from these results, so no history carries a whole run's outcomes).
 */
import {
  condition,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
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
  type BatchControl,
  type BatchReport,
  type LaneBatchState,
} from './messages';
import { emptyCounts, itemKey, type AccountLimits, type ItemOutcome, type ItemRef, type OutcomeCounts } from './model';

/** Items per batch: keeps a batch's input and result payloads well below 256 KB. */
export const BATCH_SIZE = 500;
/** Items sent to a lane per enqueue. */
export const CHUNK_SIZE = 50;
/** Items a batch may have waiting or running in one lane at once (backpressure). */
export const LANE_WINDOW = 100;
/** Failed/blocked items reported to the run in full (the rest only counted). */
const PROBLEMS_REPORTED = 10;

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
  const outstanding = new Map<string, number>(); // account → sent, no outcome yet
  const chunkSeq = new Map<string, number>();
  // Duplicate items in one request are merged: the first occurrence stands for all.
  const expected = new Set<string>();
  const items = input.items.filter((item) => {
    const key = itemKey(item);
    if (expected.has(key)) return false;
    expected.add(key);
    return true;
  });
  for (const item of items) {
    if (!pending.has(item.account)) pending.set(item.account, []);
    pending.get(item.account)!.push(item);
    outstanding.set(item.account, 0);
  }

  const accept = (o: ItemOutcome) => {
    const key = itemKey(o);
    if (!expected.has(key) || outcomes.has(key)) return; // duplicates and strays are ignored: one outcome per item
    outcomes.set(key, o);
    counts[o.outcome]++;
    (perAccount[o.account] ??= emptyCounts())[o.outcome]++;
    if ((o.outcome === 'failed' || o.outcome === 'blocked') && problems.length < PROBLEMS_REPORTED) problems.push(o);
    dirty = true;
  };

  const report = (): BatchReport => ({
    batchWorkflowId,
    total: items.length,
    counts: { ...counts },
    perAccount: Object.fromEntries(Object.entries(perAccount).map(([a, c]) => [a, { ...c }])),
    inFlight: [...outstanding.values()].reduce((a, b) => a + b, 0),
    problems: [...problems],
    done: outcomes.size === items.length,
  });

  setHandler(outcomesSignal, ({ outcomes: list }) => {
    for (const o of list) {
      const before = outcomes.size;
      accept(o);
      if (outcomes.size > before) outstanding.set(o.account, (outstanding.get(o.account) ?? 1) - 1);
    }
  });
  setHandler(batchControlSignal, ({ state }) => {
    if (control !== 'cancelled') control = state;
    dirty = true;
  });
  setHandler(batchProgressQuery, report);

  let lastReported = -1;
  const reportEvery = Math.max(10, Math.ceil(items.length / 10));
  const sendReport = async (force: boolean) => {
    if (!force && outcomes.size - lastReported < reportEvery) return;
    lastReported = outcomes.size;
    await getExternalWorkflowHandle(input.runWorkflowId)
      .signal(batchReportSignal, report())
      .catch((err: unknown) => log.warn('run did not take the batch report', { error: String(err) }));
  };

  const tellLanes = async (state: LaneBatchState) => {
    const accounts = [...outstanding].filter(([, n]) => n > 0).map(([a]) => a);
    await Promise.all(
      accounts.map((a) =>
        getExternalWorkflowHandle(laneWorkflowId(a))
          .signal(laneBatchStateSignal, { batchWorkflowId, state })
          .catch(() => undefined), // a lane that is not running holds nothing of ours
      ),
    );
  };

  if (input.dryRun) {
    for (const item of items) accept({ ...item, outcome: 'skipped', reason: 'dry run: nothing deleted', at: new Date().toISOString() });
  }

  let laneState: LaneBatchState = 'active';
  while (outcomes.size < items.length) {
    dirty = false;
    if (control === 'cancelled') {
      for (const [, list] of pending) {
        for (const item of list.splice(0)) {
          accept({ ...item, outcome: 'skipped', reason: 'run cancelled before this item was sent', at: new Date().toISOString() });
        }
      }
      if (laneState !== 'cancelled') {
        laneState = 'cancelled';
        await tellLanes('cancelled');
      }
    } else if (control === 'paused' && laneState !== 'paused') {
      laneState = 'paused';
      await tellLanes('paused');
    } else if (control === 'active') {
      if (laneState === 'paused') {
        laneState = 'active';
        await tellLanes('active');
      }
      const sends: Promise<void>[] = [];
      for (const [account, list] of pending) {
        const out = outstanding.get(account) ?? 0;
        if (!list.length || out > LANE_WINDOW - CHUNK_SIZE) continue;
        const chunk = list.splice(0, CHUNK_SIZE);
        const seq = (chunkSeq.get(account) ?? -1) + 1;
        chunkSeq.set(account, seq);
        outstanding.set(account, out + chunk.length);
        const limits = input.accounts[account]!;
        sends.push(enqueueToLane({ batchWorkflowId, chunk: seq, items: chunk, limits }));
      }
      if (sends.length) {
        await Promise.all(sends);
        continue;
      }
    }
    await sendReport(false);
    if (outcomes.size < items.length) await condition(() => dirty);
  }
  await sendReport(true);

  return { batchWorkflowId, counts, outcomes: items.map((i) => outcomes.get(itemKey(i))!) };
}
