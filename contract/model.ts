/**
 * The domain vocabulary shared by workflows, activities, client and simulator tests.
 * Pure types and tiny pure helpers only: this module is bundled into the workflow sandbox.
 */

export const PROVIDERS = ['jsa', 'csbs', 'vbs', 'veeam', 'taurusdb'] as const;
export type ProviderKind = (typeof PROVIDERS)[number];
/**
 * Providers whose delete request must never reach them twice (Veeam v1: a second deleteBackups starts a
 * second job session). Their items are deleted one per activity, which records "requesting" before the
 * request (activities/deletion/veeam-once.ts); a group could record its requests only after them.
 */
export const NEVER_REPEAT_DELETE: ReadonlySet<ProviderKind> = new Set<ProviderKind>(['veeam']);

/** One deletion target. `id` is the backup id (CSBS: checkpoint item id; Veeam: virtual machine id). */
export interface ItemRef {
  account: string;
  id: string;
  /** CSBS only: the checkpoint that holds the item. */
  checkpointId?: string;
  /**
   * Policy runs: the backup's size in bytes as its listing gave it (absent when the listing gave none:
   * unknown, never 0). Informational: reports and byte totals only, never a deletion decision.
   */
  sizeBytes?: number;
  /** Policy runs: the VM / volume / instance / server the backup protects. */
  group?: string;
  /** Policy runs: what the plan decided and by which rule, e.g. "delete: keep-last 3" or "keep: keep-daily 7". */
  plan?: string;
}

export const OUTCOMES = ['deleted', 'absent', 'blocked', 'failed', 'skipped'] as const;
export type OutcomeKind = (typeof OUTCOMES)[number];

/** The verified result for one item. Exactly one per item per run. */
export interface ItemOutcome extends ItemRef {
  outcome: OutcomeKind;
  /** Human-readable why, e.g. "provider confirmed deletion" or "VolumeBackup.0113: used to create an image". */
  reason: string;
  /** The provider's own error or status code, when there is one. */
  code?: string;
  /** ISO time (workflow clock) when the outcome was recorded. */
  at?: string;
  /**
   * Which activity attempt decided it, and when (worker clock), e.g. `deleteBackup attempt 2,
   * 2026-12-04T14:20:01.123Z`; absent when the lane decided it (a failure after the retry budget).
   */
  decidedBy?: string;
  /**
   * The same backup appears again in this run (another page or batch): the run keeps one outcome per
   * backup, so an outcome marked this way is merged into the first one, not counted or reported again.
   */
  duplicate?: true;
}

export type OutcomeCounts = Record<OutcomeKind, number>;

export function emptyCounts(): OutcomeCounts {
  return { deleted: 0, absent: 0, blocked: 0, failed: 0, skipped: 0 };
}

export function addCounts(into: OutcomeCounts, from: Partial<OutcomeCounts>): OutcomeCounts {
  for (const k of OUTCOMES) into[k] += from[k] ?? 0;
  return into;
}

export function totalOf(c: OutcomeCounts): number {
  return OUTCOMES.reduce((n, k) => n + c[k], 0);
}

/** Stable identity of an item inside a run: duplicates with the same key are merged. */
export function itemKey(item: Pick<ItemRef, 'account' | 'id' | 'checkpointId'>): string {
  return item.checkpointId ? `${item.account}/${item.checkpointId}/${item.id}` : `${item.account}/${item.id}`;
}

/**
 * The limits of one account as the workflows see them: everything but credentials and endpoints,
 * which never leave the worker (README, "Guarantees": credentials stay in the worker).
 */
export interface AccountLimits {
  name: string;
  provider: ProviderKind;
  /** Max deletions in progress at once across all runs and workers (CSBS: 5 per user). */
  maxConcurrent: number;
  /** Max delete calls started per second by the account's lane. */
  requestsPerSecond: number;
  /** How long to wait between two status polls of one deletion. */
  pollIntervalMs: number;
  /** A deletion not confirmed within this time (all retries included) ends `failed`. */
  deletionDeadlineMs: number;
  /** Attempts of the deletion activity for transient errors before the item ends `failed`. */
  maxAttempts: number;
  /** First and longest backoff between attempts (exponential, coefficient 2, jittered by Temporal). */
  retryInitialIntervalMs: number;
  retryMaxIntervalMs: number;
  /**
   * The failure circuit breaker (workflows/circuit-breaker.ts): absent = none. Present only when the
   * worker config sets `limits.circuitBreaker`, so lanes of accounts without one see the same input
   * as before it existed.
   */
  circuitBreaker?: CircuitBreakerConfig;
  /**
   * The most deletions one run may make on this account (worker config `limits.maxDeletionsPerRun`);
   * no request can raise it. Present only when configured, so lanes of accounts without it see the
   * same input as before it existed.
   */
  maxDeletionsPerRun?: number;
  /**
   * Worker config `requireApproval: true`: every executed run that would delete on this account waits
   * for approval, whatever the request says (README, "Approving deletions"). Present only when set.
   */
  requireApproval?: true;
}

/** See workflows/circuit-breaker.ts. */
export interface CircuitBreakerConfig {
  /** Fraction (0 < x ≤ 1) of the last `window` completed deletions that must fail to trip it. */
  failureRate: number;
  /** How many completed deletions (the most recent ones) the rate is computed over. */
  window: number;
  /** How long the account stays paused once tripped before one probe item is let through. */
  coolDownMs: number;
  /** Failures the window must hold at least before it trips (default: no floor beyond the rate). */
  minFailures?: number;
}

/** A backup as listed by a provider, normalised for retention policies. */
export interface BackupRecord {
  account: string;
  provider: ProviderKind;
  /** What a deletion item for this backup uses as `id` (Veeam: the VM id, since v1 deletes per VM). */
  id: string;
  checkpointId?: string;
  /** The provider's own id of the backup / restore point, when it differs from `id`. */
  backupId: string;
  name?: string;
  /** ISO-8601 UTC creation time. */
  createdAt: string;
  /** Provider status, verbatim. */
  status: string;
  /** True when the backup is complete and usable for restore (counts towards minimum keep). */
  successful: boolean;
  sizeBytes?: number;
  /** What the backup protects: VM, volume, instance or server id. Retention rules apply per group. */
  group: string;
  tags?: Record<string, string>;
  /** Whether the provider would let us delete it, and if not, why (automated backup, has dependants...). */
  deletable: { ok: true } | { ok: false; reason: string };
}
