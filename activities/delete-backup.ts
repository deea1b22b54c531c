/**
 * The deletion activity, the same for every provider: request the deletion, then observe it until a
 * terminal state. Progress is recorded in heartbeat details, so a retried attempt (worker crash,
 * transient error while polling) resumes observing instead of calling delete again (promise 3).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ItemOutcome, ItemRef } from '../workflows/model';
import { truncateReason } from '../workflows/activity-failures';
import type { DeletionHandle, ProviderAdapter } from './providers/adapter';
import { isProviderError, type ProviderError } from './provider-error';

export interface DeleteBackupInput {
  item: ItemRef;
  pollIntervalMs: number;
}

/** What a retried attempt finds in heartbeat details. */
interface DeletionProgress {
  phase: 'accepted';
  handle: DeletionHandle;
  lastStatus?: string;
}

type Outcome = Omit<ItemOutcome, 'at'>;

/** Transient poll failures retried inside one attempt before it gives up to Temporal's retry. */
const POLL_RETRIES_IN_ATTEMPT = 5;

export async function deleteBackupWith(adapter: ProviderAdapter, input: DeleteBackupInput): Promise<Outcome> {
  const ctx = Context.current();
  const { item } = input;
  const base = {
    account: item.account,
    id: item.id,
    ...(item.checkpointId ? { checkpointId: item.checkpointId } : {}),
  };
  const call = { signal: ctx.cancellationSignal };

  let progress = ctx.info.heartbeatDetails as DeletionProgress | undefined;
  if (progress?.phase !== 'accepted') {
    try {
      const handle = await adapter.requestDeletion(item, call);
      progress = { phase: 'accepted', handle };
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.kind === 'not-found')
        return { ...base, outcome: 'absent', reason: 'already gone before our delete', ...code(err) };
      if (err.kind === 'blocked')
        return { ...base, outcome: 'blocked', reason: truncateReason(err.message), ...code(err) };
      if (err.kind !== 'in-progress') throw toFailure(err);
      // A deletion is already running on it: observe that one to its end.
      progress = { phase: 'accepted', handle: {} };
    }
    // Recorded at once (the first heartbeat is not throttled), before any wait.
    ctx.heartbeat(progress);
  }

  let pollFailures = 0;
  for (;;) {
    await ctx.sleep(jitter(input.pollIntervalMs));
    let seen;
    try {
      seen = await adapter.observeDeletion(item, progress.handle, call);
      pollFailures = 0;
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.kind === 'not-found') seen = { state: 'gone' as const };
      else if (
        (err.kind === 'transient' || err.kind === 'busy') &&
        ++pollFailures <= POLL_RETRIES_IN_ATTEMPT
      ) {
        // A poll is a read: retry it here rather than ending the attempt. A new attempt depends on the
        // "accepted" heartbeat having reached the server; if it had not, the retry would delete again
        // and find the backup gone (reported absent instead of deleted).
        await ctx.sleep(err.info.retryAfterMs ?? jitter(Math.min(500 * 2 ** pollFailures, 10_000)));
        continue;
      } else throw toFailure(err);
    }
    switch (seen.state) {
      case 'gone':
        return { ...base, outcome: 'deleted', reason: 'provider confirmed the deletion' };
      case 'failed':
        return {
          ...base,
          outcome: 'failed',
          reason: truncateReason(`provider reports ${seen.status}: ${seen.reason}`),
          ...(seen.code ? { code: seen.code } : {}),
        };
      case 'blocked':
        return {
          ...base,
          outcome: 'blocked',
          reason: truncateReason(seen.reason),
          ...(seen.code ? { code: seen.code } : {}),
        };
      case 'pending':
        progress = { ...progress, lastStatus: seen.status };
        ctx.heartbeat(progress);
    }
  }
}

function code(err: ProviderError): { code?: string } {
  return err.info.code ? { code: err.info.code } : {};
}

/** ±20% so many deletions started together do not poll in lockstep. */
function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.8 + Math.random() * 0.4)));
}

/**
 * Transient and busy answers are retried by Temporal (Retry-After becomes nextRetryDelay); everything
 * else fails at once with a typed, non-retryable failure that keeps the provider's code.
 */
export function toFailure(err: ProviderError): ApplicationFailure {
  const details = [{ code: err.info.code, status: err.info.status }];
  switch (err.kind) {
    case 'transient':
    case 'busy':
      return ApplicationFailure.create({
        type: err.kind === 'busy' ? 'ProviderBusy' : 'ProviderTransient',
        message: err.message,
        details,
        nextRetryDelay: err.info.retryAfterMs ?? (err.kind === 'busy' ? 5_000 : undefined),
      });
    case 'malformed':
      return ApplicationFailure.create({
        type: 'InvalidProviderResponse',
        message: err.message,
        details,
        nonRetryable: true,
      });
    default:
      return ApplicationFailure.create({
        type: 'ProviderRejected',
        message: err.message,
        details,
        nonRetryable: true,
      });
  }
}
