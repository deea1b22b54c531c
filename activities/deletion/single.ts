/**
 * The deletion activity for one item (deleteBackup), the same for every provider: request the
 * deletion, then observe it until a terminal state. Progress is recorded in heartbeat details, so a
 * retried attempt (worker crash, transient error while polling) resumes observing instead of calling
 * delete again (README "Guarantees": One deletion per backup). Never-repeat providers (Veeam) request
 * through veeam-once.ts; groups of items are group.ts.
 */
import { Context } from '@temporalio/activity';
import { outcomeBase } from '../../contract/outcome-shape';
import type { DeletionHandle, ProviderAdapter } from '../providers/adapter';
import { isProviderError, ProviderError, toFailure } from '../provider-error';
import { PollSchedule } from '../deletion-timing';
import type { HeartbeatRecorded } from '../heartbeat-recorded';
import { inspectResent, RESENT_GONE, RESENT_OBSERVED } from '../resent-items';
import type { AcceptanceReport, AcceptedDeletion, DeleteBackupInput, Outcome, RequestGate } from './contract';
import {
  answerMayBeLost,
  backoffMs,
  decided,
  notRequested,
  outcomeOf,
  POLL_RETRIES_IN_ATTEMPT,
  requestDeletion,
  requestingRecord,
  settleForStoppedRun,
  type RequestingRecord,
} from './shared';
import { askWithRetries, requestOnce, watchUnanswered } from './veeam-once';

/** What a retried attempt finds in heartbeat details. */
interface DeletionProgress extends AcceptedDeletion {
  phase: 'accepted';
}

/** Recorded when the provider answered our request without accepting it: nothing of ours is pending. */
interface AnsweredRecord {
  phase: 'answered';
}

type SavedDeletion = DeletionProgress | RequestingRecord | AnsweredRecord;

export async function deleteBackupWith(
  adapter: ProviderAdapter,
  input: DeleteBackupInput,
  gate: RequestGate | undefined,
  recorded: HeartbeatRecorded,
  report?: AcceptanceReport,
): Promise<Outcome> {
  return decided(await deleteOne(adapter, input, { gate, recorded, report }));
}

async function deleteOne(
  adapter: ProviderAdapter,
  input: DeleteBackupInput,
  deps: { gate: RequestGate | undefined; recorded: HeartbeatRecorded; report?: AcceptanceReport },
): Promise<Outcome> {
  const { gate, recorded, report } = deps;
  const ctx = Context.current();
  const { item } = input;
  const call = { signal: ctx.cancellationSignal };
  const tellBatch = async (handle: DeletionHandle) => {
    if (!report || !input.reportAcceptedTo) return;
    // A batch that is gone has nobody left to re-send for: the deletion goes on regardless.
    await report(input.reportAcceptedTo, item, handle).catch((err: unknown) =>
      ctx.log.warn('could not tell the batch about an accepted deletion', { error: String(err) }),
    );
  };

  const saved = ctx.info.heartbeatDetails as SavedDeletion | undefined;
  const never = adapter.neverRepeatDelete;
  /** An earlier attempt's request may have been accepted (its answer lost): a 404 now is our deletion. */
  const mayBeAccepted = saved?.phase === 'requesting';
  let progress = saved?.phase === 'accepted' ? saved : undefined;
  /** A never-repeat request whose fate the provider cleared up: it shows none started, so post once. */
  let noneStarted = false;
  if (saved?.phase === 'requesting' && never) {
    // A request that may have reached the provider without its answer being recorded: never sent
    // again blindly. The provider is asked whether it started a deletion since the record.
    const since = saved.at ?? ctx.info.scheduledTimestampMs;
    const found = never.findStarted
      ? await askWithRetries(() => never.findStarted!(item, since, call))
      : { unknown: 'the provider cannot list its deletions' };
    if ('unknown' in found) return watchUnanswered(never, item, input.pollIntervalMs, call);
    if ('started' in found) {
      progress = { phase: 'accepted', handle: found.started };
      ctx.heartbeat(progress);
    } else noneStarted = true;
  }
  // A retry of an accepted deletion tells the batch again: the first attempt may have died before it did.
  if (progress) await tellBatch(progress.handle);
  /** Set when this attempt's own request was accepted: its deletion time teaches the first poll. */
  let acceptedAt: number | undefined;
  /** Set when the deletion observed here was accepted before this lane had the item (a re-send). */
  let earlier = !!input.resent && !!input.accepted;
  if (!progress && input.accepted) progress = { phase: 'accepted', ...input.accepted };
  if (!progress && input.resent) {
    // README, "Guarantees": one deletion per backup. The lane that had it may have had it deleted.
    const seen = await inspectResent(adapter, item, call).catch((err: unknown) => {
      throw isProviderError(err) ? toFailure(err) : err;
    });
    if (seen === 'gone') return { ...outcomeBase(item), outcome: 'absent', reason: RESENT_GONE };
    if (seen === 'deleting') {
      progress = { phase: 'accepted', handle: {} };
      earlier = true;
      ctx.heartbeat(progress);
    }
  }
  if (!progress) {
    // Temporal then treats the group's failed request as this activity's first failed attempt: the same
    // backoff, Retry-After, retry budget and typed failure as a request made here, without a new call.
    const { groupError } = input;
    if (groupError && ctx.info.attempt === 1) {
      // A request of the group's may have been carried out: this attempt records "requesting" for
      // it, so the retry reads a 404 as our deletion.
      if (groupError.mayBeAccepted) {
        ctx.heartbeat(requestingRecord(item));
        await recorded();
      }
      throw toFailure(new ProviderError(groupError.kind, groupError.message, groupError.info));
    }
    const stopped = input.runWorkflowId && gate ? await gate(input.runWorkflowId) : undefined;
    if (stopped && (saved?.phase !== 'requesting' || noneStarted)) return notRequested(item, stopped);
    let requested;
    if (stopped)
      requested = await settleForStoppedRun(adapter, item, call, stopped).catch((err: unknown) => {
        throw isProviderError(err) ? toFailure(err) : err; // unreadable now: a later attempt reads again
      });
    else if (never) requested = await requestOnce(adapter, item, input.pollIntervalMs, call, recorded);
    else {
      // Recorded before the request, in the attempt's first heartbeat (sent at once, not throttled),
      // and the request goes out only once the server holds it (as a group's, group.ts): a worker lost
      // right after the provider accepted leaves a retry that reads a 404 as our deletion, not `absent`
      // (the reduced chaos run saw two such items with the record still on its way).
      ctx.heartbeat(requestingRecord(item));
      await recorded();
      requested = await requestDeletion(adapter, item, call, mayBeAccepted).catch((err: unknown) => {
        if (!isProviderError(err)) throw err;
        // Answered without being accepted: unless an earlier attempt's request may still have been
        // (busy now can be that deletion running), a retry must not read a 404 as our deletion. The
        // SDK flushes an activity's last heartbeat before reporting its failure.
        if (!mayBeAccepted && !answerMayBeLost(err))
          ctx.heartbeat({ phase: 'answered' } satisfies AnsweredRecord);
        throw toFailure(err);
      });
    }
    if ('outcome' in requested) return requested.outcome;
    progress = { phase: 'accepted', ...requested.accepted };
    // Goes out with the SDK's next heartbeat (at most 2 s after "requesting"): a crash before that
    // leaves "requesting", which the retry resolves (a 404 is our deletion; Veeam asks the appliance).
    ctx.heartbeat(progress);
    if (!stopped) acceptedAt = Date.now(); // a deletion found running teaches nothing about its length
    await tellBatch(progress.handle);
  }

  let pollFailures = 0;
  const polls = new PollSchedule(
    item.account,
    input.pollIntervalMs,
    acceptedAt === undefined ? undefined : Date.now() - acceptedAt,
  );
  for (;;) {
    await ctx.sleep(polls.next());
    const polledAt = Date.now();
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
        await ctx.sleep(err.info.retryAfterMs ?? backoffMs(500, pollFailures));
        continue;
      } else throw toFailure(err);
    }
    const outcome = outcomeOf(item, seen, progress.handle);
    if (acceptedAt) polls.observed(polledAt - acceptedAt, seen.state !== 'pending');
    if (outcome?.outcome === 'deleted' && earlier) return { ...outcome, reason: RESENT_OBSERVED };
    if (outcome) return outcome;
    progress = { ...progress, lastStatus: (seen as { status: string }).status };
    ctx.heartbeat(progress);
  }
}
