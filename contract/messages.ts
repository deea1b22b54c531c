/**
 * Every signal, query and update of the three workflows, in one place, with their payload types.
 * Names are stable API: the Web UI, the CLI and stored histories use them.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CircuitBreakerStatus } from '../workflows/circuit-breaker';
import type { AccountLimits, ItemOutcome, ItemRef, OutcomeCounts } from './model';
import type { ApproveInput, RejectInput, RunPlan } from './approval';

// ---- run (retentionCleanup) ----

export type RunState = 'starting' | 'running' | 'paused' | 'cancelling' | 'completed' | 'awaiting-approval';

export interface AccountProgress {
  provider: string;
  counts: OutcomeCounts;
  /** What the account's deletions freed (issue 19); absent until a deleted item is counted. */
  deletedBytes?: DeletedBytes;
}

/**
 * Bytes of the deleted backups whose size the listing gave, and how many deleted backups had none
 * (unknown stays unknown: never added as 0).
 */
export interface DeletedBytes {
  bytes: number;
  unsized: number;
}

export interface RunProgress {
  workflowId: string;
  state: RunState;
  dryRun: boolean;
  label?: string;
  /** Items known to the run so far (grows while itemsToFollow pages arrive). */
  total: number;
  counts: OutcomeCounts;
  done: number;
  /** Items handed to account lanes and not yet finished. */
  inFlight: number;
  perAccount: Record<string, AccountProgress>;
  batches: { total: number; active: number; done: number };
  startedAt: string;
  /** Finished items per minute since the run started. */
  ratePerMinute: number;
  /** Seconds until done at the current rate; null while unknown. */
  etaSeconds: number | null;
}

export interface RunSummary {
  workflowId: string;
  dryRun: boolean;
  label?: string;
  cancelled: boolean;
  /** Why it was cancelled: the `cancel` signal's reason, a cancellation through Temporal, a guard... */
  cancelReason?: string;
  total: number;
  counts: OutcomeCounts;
  perAccount: Record<string, AccountProgress>;
  perProvider: Record<string, OutcomeCounts>;
  /** The first failed or blocked items with their reasons; the full list is in the report. */
  firstProblems: ItemOutcome[];
  /** Policy runs: what discovery listed and planned per account. */
  plan?: AccountPlanSummary[];
  /** Dry runs that would cross a guard: the violations (an executed run fails instead). */
  guardViolations?: string[];
  /** Workflow IDs of the batches: each batch's result holds its full per-item outcome list. */
  batchWorkflowIds: string[];
  startedAt: string;
  finishedAt: string;
}

export interface AccountPlanSummary {
  account: string;
  listed: number;
  toDelete: number;
  kept: number;
  groups: number;
  /** Bytes the planned deletions would free (sizes the listing gave; issue 19). */
  toDeleteBytes?: number;
  /** Planned deletions without a size in the listing: not in toDeleteBytes, never counted as 0. */
  toDeleteUnsized?: number;
}

export const progressQuery = defineQuery<RunProgress>('progress');
export const pauseSignal = defineSignal<[{ reason?: string }?]>('pause');
export const resumeSignal = defineSignal('resume');
export const cancelSignal = defineSignal<[{ reason?: string }?]>('cancel');
/** The exact plan the run would delete, its hash and approval state (README, "Approving deletions"). */
export const planQuery = defineQuery<RunPlan>('plan');
/** Approves the plan by its hash; refused by the validator when the hash, approver or state is wrong. */
export const approveUpdate = defineUpdate<{ approved: true; planHash: string }, [ApproveInput]>('approve');
/** Rejects the plan: every item ends `skipped`, nothing is deleted. */
export const rejectUpdate = defineUpdate<{ rejected: true }, [RejectInput]>('reject');
/** Adds a page of items to a run started with itemsToFollow. Validated before it is accepted. */
export const addItemsUpdate = defineUpdate<{ accepted: number; total: number }, [{ items: ItemRef[] }]>(
  'addItems',
);
/** No more pages will follow. */
export const sealItemsUpdate = defineUpdate<{ total: number }>('sealItems');

/** Batch → run: cumulative progress of one batch (idempotent, so a repeat is harmless). */
export interface BatchReport {
  batchWorkflowId: string;
  total: number;
  counts: OutcomeCounts;
  perAccount: Record<string, OutcomeCounts>;
  inFlight: number;
  problems: ItemOutcome[];
  done: boolean;
  /** Per account: bytes of the deleted items (absent when the batch deleted nothing). */
  deletedBytes?: Record<string, DeletedBytes>;
  /** Items that appear again elsewhere in the run: merged into their first occurrence, not in `total`. */
  merged?: number;
}
export const batchReportSignal = defineSignal<[BatchReport]>('batchReport');

// ---- batch (cleanupBatch) ----

export type BatchControl = 'waiting' | 'active' | 'paused' | 'cancelled';
export const batchControlSignal = defineSignal<[{ state: BatchControl; reason?: string }]>('batchControl');
/**
 * Run → batch: these items (keys) end `skipped` with the reason if not yet sent (an approved item the
 * policy would no longer delete: "plan changed since approval").
 */
export const skipItemsSignal = defineSignal<[{ keys: string[]; reason: string }]>('skipItems');
/** Lane → batch: finished items. */
export const outcomesSignal = defineSignal<[{ outcomes: ItemOutcome[] }]>('outcomes');
export const batchProgressQuery = defineQuery<BatchReport>('batchProgress');
/**
 * Lane → batch: items the lane had queued but not started and gives back (to keep what it carries
 * through continue-as-new small). The batch sends them again later; they never reached the provider.
 */
export const returnItemsSignal = defineSignal<[{ items: ItemRef[] }]>('returnItems');
/**
 * Deletion activity → batch: the provider accepted these deletions (key, handle). The batch is the
 * durable owner of its items and outlives a lane terminate, so it remembers each open item's handle
 * and sends it with a re-send: the next lane observes that deletion instead of requesting another
 * (README, "Guarantees": one deletion per backup). Sent for providers whose deletes must never repeat.
 */
export interface AcceptedDeletionNote {
  key: string;
  handle: Record<string, string>;
}
export const acceptedSignal = defineSignal<[{ accepted: AcceptedDeletionNote[] }]>('accepted');

// ---- lane (accountLane) ----

export interface EnqueueRequest {
  batchWorkflowId: string;
  /** Per batch and account, increasing: the lane ignores a chunk it has seen (retried enqueue). */
  chunk: number;
  items: ItemRef[];
  /** The account's current limits from the worker config, so config changes reach a running lane. */
  limits: AccountLimits;
  /**
   * The batch's state for this lane, applied before the items are queued. Lets a re-enqueue reach a
   * lane that was restarted (and so forgot a pause or a cancellation) without a window in which it
   * could start items it must not.
   */
  state?: LaneBatchState;
  /** True when the batch re-sends items it already sent (after a long silence from the lane). */
  resend?: boolean;
  /**
   * With a re-send: the items whose deletion a provider already accepted, with its handle (see
   * acceptedSignal). A lane that does not hold such an item observes that deletion, never requests it.
   */
  accepted?: AcceptedDeletionNote[];
}
export const enqueueSignal = defineSignal<[EnqueueRequest]>('enqueue');
export type LaneBatchState = 'active' | 'paused' | 'cancelled';
export const laneBatchStateSignal =
  defineSignal<[{ batchWorkflowId: string; state: LaneBatchState }]>('batchState');
export const setConcurrencyUpdate = defineUpdate<
  { concurrency: number; max: number },
  [{ concurrency: number }]
>('setConcurrency');

export interface LaneStatus {
  account: string;
  concurrency: number;
  maxConcurrent: number;
  inFlight: number;
  queued: Record<string, number>;
  completedThisExecution: number;
  /** The failure circuit breaker, when the account configures one (`limits.circuitBreaker`). */
  circuitBreaker?: CircuitBreakerStatus;
}
export const laneStatusQuery = defineQuery<LaneStatus>('laneStatus');
