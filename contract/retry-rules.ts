/**
 * Where a deletion is retried, and which failures no retry can fix: every retry rule of the product
 * in one place (the map with the files of each layer: docs/retries.md).
 *
 *   1. HTTP layer (activities/http.ts, the provider adapters): classifies every answer into a
 *      ProviderErrorKind; `transient` (5xx, 429, resets, timeouts) and `busy` are the retryable kinds,
 *      with the provider's Retry-After kept.
 *   2. Inside one attempt (activities/deletion/single.ts, veeam-once.ts): polls that fail are retried while the
 *      deletion is observed; a never-repeat delete (Veeam) retries its own request there, never
 *      through Temporal.
 *   3. Activity retries (the policies below): Temporal re-runs a failed attempt with backoff; the
 *      types in NON_RETRYABLE_ERROR_TYPES end the item at once.
 *   4. The lane (workflows/circuit-breaker.ts): an account that keeps failing opens its circuit.
 *   5. The batch (workflows/cleanup-batch.ts): items whose lane fell silent are re-sent, and the lane's
 *      ledger makes the re-send join the first deletion instead of deleting twice.
 */
import type { RetryPolicy } from '@temporalio/common';
import type { ProviderErrorKind } from '../activities/provider-error';
import { FAILURE } from './failure-types';

/** Provider answers a later try can fix (layer 1 → 2 and 3). Everything else fails the item. */
const RETRYABLE_KINDS: ReadonlySet<ProviderErrorKind> = new Set(['transient', 'busy']);

export function isRetryableKind(kind: ProviderErrorKind): boolean {
  return RETRYABLE_KINDS.has(kind);
}

/** How long a `busy` answer without Retry-After waits before the next attempt. */
export const BUSY_RETRY_DELAY_MS = 5_000;

/** Failure types that no retry can fix: named in every activity retry policy (layer 3). */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  FAILURE.InvalidProviderResponse,
  FAILURE.ProviderRejected,
  FAILURE.AccountConfigError,
  FAILURE.UnknownAccount,
  FAILURE.InvalidRequest,
  FAILURE.AccountMisconfigured,
  FAILURE.UntrustworthyListing,
];

/** The deletion activities: the account's configured backoff and attempts, within the deadline. */
export function deletionRetry(limits: {
  retryInitialIntervalMs: number;
  retryMaxIntervalMs: number;
  maxAttempts: number;
}): RetryPolicy {
  return {
    initialInterval: limits.retryInitialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: limits.retryMaxIntervalMs,
    maximumAttempts: limits.maxAttempts,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  };
}

/**
 * A batch's calls to its lanes (enqueueToLane, checkRun). Bounded: a lane that cannot be reached for
 * minutes is handled by the batch's silence watchdog (layer 5), not here.
 */
export const LANE_CALL_RETRY: RetryPolicy = {
  initialInterval: '1s',
  maximumInterval: '30s',
  maximumAttempts: 20,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Listing and planning one policy account: pages through the provider, heartbeating. */
export const PLAN_ACCOUNT_RETRY: RetryPolicy = {
  maximumAttempts: 10,
  maximumInterval: '1m',
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Resolving the request's accounts against the worker config (no provider call). */
export const RESOLVE_ACCOUNTS_RETRY: RetryPolicy = {
  maximumAttempts: 5,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};
