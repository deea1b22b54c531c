import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FAILURE } from '../contract/failure-types';
import { outcomeBase, truncateReason } from '../contract/outcome-shape';
import type { ItemOutcome, ItemRef } from '../contract/model';
import { withDecider } from './decided-by';

/** The outcome says the account is misconfigured: every deletion on it would fail the same way. */
export function isMisconfiguration(o: Pick<ItemOutcome, 'outcome' | 'reason'>): boolean {
  return o.outcome === 'failed' && o.reason.startsWith(`${FAILURE.AccountMisconfigured}:`);
}

/**
 * The outcome of an item whose deletion activity gave up: after the retry budget, at the deadline,
 * or at once for a non-retryable error. The provider code travels in the failure's details.
 */

export function failedOutcomeFrom(item: ItemRef, err: unknown): Omit<ItemOutcome, 'at'> {
  return withDecider(failedOutcome(item, err), 'lane', gaveUp(err));
}

/** decidedBy's why: which activity gave up and Temporal's retry state (e.g. MAXIMUM_ATTEMPTS_REACHED). */
function gaveUp(err: unknown): string {
  if (!(err instanceof ActivityFailure)) return 'no activity result';
  const state = err.retryState === undefined || err.retryState === null ? '' : `: ${String(err.retryState)}`;
  return `${err.activityType ?? 'activity'} gave up${state}`;
}

function failedOutcome(item: ItemRef, err: unknown): Omit<ItemOutcome, 'at'> {
  const base = outcomeBase(item);
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    return {
      ...base,
      outcome: 'failed',
      reason: `deadline passed before the provider confirmed the deletion (${cause.timeoutType ?? 'timeout'})`,
    };
  }
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as { code?: string } | undefined;
    return {
      ...base,
      outcome: 'failed',
      reason: truncateReason(`${cause.type ?? 'Error'}: ${cause.message}`),
      ...(details?.code ? { code: details.code } : {}),
    };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { ...base, outcome: 'failed', reason: truncateReason(message) };
}
