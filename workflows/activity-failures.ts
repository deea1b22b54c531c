import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { ItemOutcome, ItemRef } from './model';

/** Error types our activities throw that no retry can fix. Named in every activity retry policy. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidProviderResponse',
  'ProviderRejected',
  'AccountConfigError',
  'UnknownAccount',
  'InvalidRequest',
  /** A 404 without the provider's not-found marker: the account's endpoint is wrong (never "absent"). */
  'AccountMisconfigured',
  /** A listing that disagrees with its own counts or pages (activities/listing.ts): not planned on. */
  'UntrustworthyListing',
];

/** Outcome code of an item not requested because the run that wanted it no longer runs. */
export const RUN_STOPPED = 'RunStopped';

const MAX_REASON = 300;

export function truncateReason(reason: string): string {
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
}

/** The item's identity as every outcome carries it (no policy or group fields). */
export function outcomeBase(item: ItemRef): Pick<ItemOutcome, 'account' | 'id' | 'checkpointId'> {
  return {
    account: item.account,
    id: item.id,
    ...(item.checkpointId ? { checkpointId: item.checkpointId } : {}),
  };
}

/**
 * The outcome of an item whose deletion activity gave up: after the retry budget, at the deadline,
 * or at once for a non-retryable error. The provider code travels in the failure's details.
 */
/** Failure type of a configuration error (a 404 without the provider's marker, a wrong IAM endpoint...). */
export const ACCOUNT_MISCONFIGURED = 'AccountMisconfigured';

/** The outcome says the account is misconfigured: every deletion on it would fail the same way. */
export function isMisconfiguration(o: Pick<ItemOutcome, 'outcome' | 'reason'>): boolean {
  return o.outcome === 'failed' && o.reason.startsWith(`${ACCOUNT_MISCONFIGURED}:`);
}

export function failedOutcomeFrom(item: ItemRef, err: unknown): Omit<ItemOutcome, 'at'> {
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
