/**
 * The never-repeat path (Veeam: a second deleteBackups POST starts a second job session; README
 * "Guarantees": Never repeated): the request goes out once, only after the server holds its
 * "requesting" heartbeat; a retry that finds that record asks the provider what it started (or
 * watches the item) instead of requesting again. single.ts calls these for adapters with
 * `neverRepeatDelete`.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ItemRef } from '../../contract/model';
import { FAILURE } from '../../contract/failure-types';
import { outcomeBase, truncateReason } from '../../contract/outcome-shape';
import { isRetryableKind } from '../../contract/retry-rules';
import type { CallContext, ProviderAdapter } from '../providers/adapter';
import { isProviderError, toFailure } from '../provider-error';
import { jitter } from '../deletion-timing';
import type { HeartbeatRecorded } from '../heartbeat-recorded';
import type { AcceptedDeletion, Outcome } from './contract';
import { backoffMs, POLL_RETRIES_IN_ATTEMPT, requestDeletion, requestingRecord } from './shared';

/** Answered failures of a never-repeat delete retried inside the attempt (see requestOnce). */
const REQUEST_RETRIES_IN_ATTEMPT = 20;
/**
 * How long a retry that finds an unanswered never-repeat request watches for the item to go: 40 poll
 * intervals (a deletion that was started has had time to finish), at least 1 and at most 30 minutes.
 */
export function unansweredWatchMs(pollIntervalMs: number): number {
  return Math.min(Math.max(40 * pollIntervalMs, 60_000), 30 * 60_000);
}

/**
 * The delete of a provider that must never receive it twice (Veeam). "requesting" is recorded in the
 * first heartbeat (sent at once) and the request goes out only once the server holds it
 * (heartbeat-recorded.ts), so a worker that dies mid-request leaves that record and the retry watches
 * instead of requesting again
 * (watchUnanswered). For the same reason an answered failure is retried here, inside the attempt, and
 * never left to a Temporal retry: a new attempt would find "requesting" and could not tell a refused
 * request from one whose answer was lost. When the answers keep failing, the activity fails for good.
 */
export async function requestOnce(
  adapter: ProviderAdapter,
  item: ItemRef,
  pollIntervalMs: number,
  call: CallContext,
  recorded: HeartbeatRecorded,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  const ctx = Context.current();
  ctx.heartbeat(requestingRecord(item));
  // Should the record never arrive, the attempt fails with nothing sent; if it arrives late after all,
  // the retry finds "requesting" and watches (the safe side: at worst a person checks).
  await recorded();
  for (let failures = 0; ;) {
    try {
      return await requestDeletion(adapter, item, call);
    } catch (err) {
      if (!isProviderError(err)) throw err;
      const retryable = isRetryableKind(err.kind);
      if (!retryable || ++failures > REQUEST_RETRIES_IN_ATTEMPT) {
        const failure = toFailure(err);
        throw ApplicationFailure.create({
          type: failure.type ?? FAILURE.ProviderRejected,
          message: retryable ? `${err.message} (after ${failures} tries)` : err.message,
          details: failure.details as unknown[],
          nonRetryable: true,
        });
      }
      const wait = err.info.retryAfterMs ?? backoffMs(pollIntervalMs, failures);
      ctx.heartbeat(requestingRecord(item));
      await ctx.sleep(Math.min(wait, 20_000));
    }
  }
}

/**
 * A read of the provider's state (never a request that changes it): transient failures are retried
 * inside the attempt, so the "requesting" record stays the attempt's last heartbeat; anything else
 * fails the attempt, and the retry asks again.
 */
export async function askWithRetries<T>(ask: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  for (let failures = 0; ;) {
    try {
      return await ask();
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if ((err.kind !== 'transient' && err.kind !== 'busy') || ++failures > POLL_RETRIES_IN_ATTEMPT)
        throw toFailure(err);
      await ctx.sleep(err.info.retryAfterMs ?? backoffMs(500, failures));
    }
  }
}

/**
 * A retry found "requesting" without an answer: the provider may or may not have started the deletion.
 * Requesting again could start a second one, so it watches the item instead: gone means our request
 * deleted it; still there after UNANSWERED_WATCH_MS means nobody can tell, and an operator must look.
 */
export async function watchUnanswered(
  never: NonNullable<ProviderAdapter['neverRepeatDelete']>,
  item: ItemRef,
  pollIntervalMs: number,
  call: CallContext,
): Promise<Outcome> {
  const ctx = Context.current();
  const watchMs = unansweredWatchMs(pollIntervalMs);
  const until = Date.now() + watchMs;
  for (;;) {
    ctx.heartbeat({ phase: 'requesting' });
    let there = true;
    try {
      there = await never.stillThere(item, call);
    } catch (err) {
      if (!isProviderError(err)) throw err;
      if (err.kind !== 'transient' && err.kind !== 'busy') throw toFailure(err);
    }
    if (!there)
      return {
        ...outcomeBase(item),
        outcome: 'deleted',
        reason: 'provider shows nothing left of it; our delete request was answered while a worker stopped',
      };
    if (Date.now() >= until)
      return {
        ...outcomeBase(item),
        outcome: 'failed',
        reason: truncateReason(
          `a worker stopped while the delete request was in flight and it is still there after ${Math.round(watchMs / 1000)} s; look for a running deletion on the provider before running it again (a second request would start a second deletion)`,
        ),
        code: FAILURE.UnansweredRequest,
      };
    await ctx.sleep(jitter(Math.max(pollIntervalMs, 1_000)));
  }
}
