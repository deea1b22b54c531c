/**
 * The deletion activity, the same for every provider: request the deletion, then observe it until a
 * terminal state. Progress is recorded in heartbeat details, so a retried attempt (worker crash,
 * transient error while polling) resumes observing instead of calling delete again (promise 3).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ItemOutcome, ItemRef } from '../workflows/model';
import { outcomeBase, truncateReason } from '../workflows/activity-failures';
import type { CallContext, DeletionHandle, Observation, ProviderAdapter } from './providers/adapter';
import { isProviderError, ProviderError, type ProviderErrorKind } from './provider-error';

export interface DeleteBackupInput {
  item: ItemRef;
  pollIntervalMs: number;
  /** The provider already accepted this deletion (a group handed it on): observe, never delete again. */
  accepted?: AcceptedDeletion;
  /** A group's delete request for this item failed with this: the first attempt fails with it too. */
  groupError?: GroupRequestError;
}

/** A provider error as a group hands it on (plain data: it travels through the lane's history). */
export interface GroupRequestError {
  kind: ProviderErrorKind;
  message: string;
  info: ProviderError['info'];
}

/** What the provider said when it accepted a deletion, and the last status seen since. */
export interface AcceptedDeletion {
  handle: DeletionHandle;
  lastStatus?: string;
}

/** What a retried attempt finds in heartbeat details. */
interface DeletionProgress extends AcceptedDeletion {
  phase: 'accepted';
}

type Outcome = Omit<ItemOutcome, 'at'>;

/** Transient poll failures retried inside one attempt before it gives up to Temporal's retry. */
const POLL_RETRIES_IN_ATTEMPT = 5;

export async function deleteBackupWith(adapter: ProviderAdapter, input: DeleteBackupInput): Promise<Outcome> {
  const ctx = Context.current();
  const { item } = input;
  const call = { signal: ctx.cancellationSignal };

  const saved = ctx.info.heartbeatDetails as DeletionProgress | { phase: 'requesting' } | undefined;
  const never = adapter.neverRepeatDelete;
  // A request that may have reached the provider without its answer being recorded: never sent again.
  if (saved?.phase === 'requesting' && never) return watchUnanswered(never, item, input.pollIntervalMs, call);
  let progress = saved?.phase === 'accepted' ? saved : undefined;
  if (!progress && input.accepted) progress = { phase: 'accepted', ...input.accepted };
  if (!progress) {
    // Temporal then treats the group's failed request as this activity's first failed attempt: the same
    // backoff, Retry-After, retry budget and typed failure as a request made here, without a new call.
    const { groupError } = input;
    if (groupError && ctx.info.attempt === 1)
      throw toFailure(new ProviderError(groupError.kind, groupError.message, groupError.info));
    const requested = never
      ? await requestOnce(adapter, item, input.pollIntervalMs, call)
      : await requestDeletion(adapter, item, call).catch((err: unknown) => {
          throw isProviderError(err) ? toFailure(err) : err;
        });
    if ('outcome' in requested) return requested.outcome;
    progress = { phase: 'accepted', ...requested.accepted };
    // Recorded at once when it is the first heartbeat (not throttled), before any wait.
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
        await ctx.sleep(err.info.retryAfterMs ?? backoffMs(500, pollFailures));
        continue;
      } else throw toFailure(err);
    }
    const outcome = outcomeOf(item, seen);
    if (outcome) return outcome;
    progress = { ...progress, lastStatus: (seen as { status: string }).status };
    ctx.heartbeat(progress);
  }
}

/** Time given to the "requesting" heartbeat to reach the server before a never-repeat delete is sent. */
const REQUESTING_HEAD_START_MS = 300;
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
 * first heartbeat (sent at once) and given a head start before the request goes out, so a worker that
 * dies mid-request leaves that record and the retry watches instead of requesting again
 * (watchUnanswered). For the same reason an answered failure is retried here, inside the attempt, and
 * never left to a Temporal retry: a new attempt would find "requesting" and could not tell a refused
 * request from one whose answer was lost. When the answers keep failing, the activity fails for good.
 */
async function requestOnce(
  adapter: ProviderAdapter,
  item: ItemRef,
  pollIntervalMs: number,
  call: CallContext,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  const ctx = Context.current();
  ctx.heartbeat({ phase: 'requesting' });
  await ctx.sleep(REQUESTING_HEAD_START_MS);
  for (let failures = 0; ;) {
    try {
      return await requestDeletion(adapter, item, call);
    } catch (err) {
      if (!isProviderError(err)) throw err;
      const retryable = err.kind === 'transient' || err.kind === 'busy';
      if (!retryable || ++failures > REQUEST_RETRIES_IN_ATTEMPT) {
        const failure = toFailure(err);
        throw ApplicationFailure.create({
          type: failure.type ?? 'ProviderRejected',
          message: retryable ? `${err.message} (after ${failures} tries)` : err.message,
          details: failure.details as unknown[],
          nonRetryable: true,
        });
      }
      const wait = err.info.retryAfterMs ?? backoffMs(pollIntervalMs, failures);
      ctx.heartbeat({ phase: 'requesting' });
      await ctx.sleep(Math.min(wait, 20_000));
    }
  }
}

/**
 * A retry found "requesting" without an answer: the provider may or may not have started the deletion.
 * Requesting again could start a second one, so it watches the item instead: gone means our request
 * deleted it; still there after UNANSWERED_WATCH_MS means nobody can tell, and an operator must look.
 */
async function watchUnanswered(
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
        code: 'UnansweredRequest',
      };
    await ctx.sleep(jitter(Math.max(pollIntervalMs, 1_000)));
  }
}

export interface DeleteBackupsInput {
  /** Items of one account, at most one entry per backup. */
  items: ItemRef[];
  pollIntervalMs: number;
}

/**
 * Per item, in input order: its outcome, or the item to continue as its own deleteBackup activity
 * (with what the provider accepted, or null when the delete was not accepted yet).
 */
export type GroupItemResult =
  | { outcome: Outcome }
  | { continueWith: AcceptedDeletion }
  | { continueWith: null; requestError: GroupRequestError };

/** Heartbeat details of a group: one entry per input item, undefined while its delete is unanswered. */
type GroupEntry =
  { outcome: Outcome } | { accepted: AcceptedDeletion; handOff?: true } | { requestError: GroupRequestError };

/**
 * A group finishes once its first outcome is this many poll intervals old, handing its still-pending
 * items on: slots of finished items are never held much longer than the slowest item's last poll.
 */
export const HAND_OFF_AFTER_POLLS = 2;

/**
 * The fast path for several items of one account started at the same moment: requests every deletion,
 * records what was accepted in ONE heartbeat, and observes them together, so a group costs one activity
 * and one heartbeat instead of one of each per item. Only the happy path lives here: any error, and any
 * item still pending when the group finishes, is handed back to the lane, which continues that item as
 * its own deleteBackup activity (with the accepted handle, so nothing is deleted twice); retries,
 * backoff and failures stay in one place.
 */
export async function deleteBackupsWith(
  adapter: ProviderAdapter,
  input: DeleteBackupsInput,
): Promise<GroupItemResult[]> {
  const ctx = Context.current();
  if (adapter.neverRepeatDelete)
    // The lane never groups these (workflows/model.ts NEVER_REPEAT_DELETE): a group records its requests only after them.
    throw ApplicationFailure.create({
      type: 'AccountConfigError',
      message:
        "deleteBackups: this provider's deletes must never be repeated; they run one item per activity",
      nonRetryable: true,
    });
  const call = { signal: ctx.cancellationSignal };
  const saved = ctx.info.heartbeatDetails as { group: (GroupEntry | null)[] } | undefined;
  const entries: (GroupEntry | undefined)[] = input.items.map((_, i) => saved?.group[i] ?? undefined);
  const save = () => ctx.heartbeat({ group: entries.map((e) => e ?? null) });

  // Every request is answered (or fails) before anything is thrown, so what was accepted is recorded.
  const asked = await Promise.allSettled(
    input.items.map(async (item, i) => {
      if (entries[i]) return;
      try {
        const requested = await requestDeletion(adapter, item, call);
        entries[i] = 'outcome' in requested ? requested : { accepted: requested.accepted };
      } catch (err) {
        if (!isProviderError(err)) throw err;
        entries[i] = { requestError: { kind: err.kind, message: err.message, info: err.info } };
      }
    }),
  );
  save();
  rethrowFirst(asked);

  const pending = () =>
    entries.flatMap((e, i) =>
      e && 'accepted' in e && !e.handOff ? [{ i, e: e as { accepted: AcceptedDeletion } }] : [],
    );
  let firstOutcomeAt = entries.some((e) => e && 'outcome' in e) ? Date.now() : undefined;
  while (pending().length) {
    if (
      firstOutcomeAt !== undefined &&
      Date.now() - firstOutcomeAt >= HAND_OFF_AFTER_POLLS * input.pollIntervalMs
    )
      break;
    await ctx.sleep(jitter(input.pollIntervalMs));
    const polled = await Promise.allSettled(
      pending().map(async ({ i, e }) => {
        const item = input.items[i]!;
        let seen: Observation;
        try {
          seen = await adapter.observeDeletion(item, e.accepted.handle, call);
        } catch (err) {
          if (!isProviderError(err)) throw err;
          if (err.kind !== 'not-found') {
            entries[i] = { ...e, handOff: true };
            return;
          }
          seen = { state: 'gone' };
        }
        const outcome = outcomeOf(item, seen);
        if (outcome) {
          entries[i] = { outcome };
          firstOutcomeAt ??= Date.now();
        } else entries[i] = { accepted: { ...e.accepted, lastStatus: (seen as { status: string }).status } };
      }),
    );
    save();
    rethrowFirst(polled);
  }
  return entries.map((e) => {
    if (e && 'outcome' in e) return { outcome: e.outcome };
    if (e && 'accepted' in e) return { continueWith: e.accepted };
    const requestError = e && 'requestError' in e ? e.requestError : lostRequest;
    return { continueWith: null, requestError };
  });
}

/** Cannot happen (every request settles before the return); kept total so no item is ever dropped. */
const lostRequest: GroupRequestError = {
  kind: 'transient',
  message: 'the group lost track of this request',
  info: {},
};

/** The provider's answer to our delete: a final outcome at once (gone, blocked), or accepted. */
async function requestDeletion(
  adapter: ProviderAdapter,
  item: ItemRef,
  call: CallContext,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  try {
    return { accepted: { handle: await adapter.requestDeletion(item, call) } };
  } catch (err) {
    if (!isProviderError(err)) throw err;
    if (err.kind === 'not-found')
      return {
        outcome: {
          ...outcomeBase(item),
          outcome: 'absent',
          reason: 'already gone before our delete',
          ...code(err),
        },
      };
    if (err.kind === 'blocked')
      return {
        outcome: {
          ...outcomeBase(item),
          outcome: 'blocked',
          reason: truncateReason(err.message),
          ...code(err),
        },
      };
    // A deletion is already running on it: observe that one to its end.
    if (err.kind === 'in-progress') return { accepted: { handle: {} } };
    throw err;
  }
}

/** The outcome an observation ends with, or undefined while the deletion is still pending. */
function outcomeOf(item: ItemRef, seen: Observation): Outcome | undefined {
  const base = outcomeBase(item);
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
      return undefined;
  }
}

function rethrowFirst(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function code(err: ProviderError): { code?: string } {
  return err.info.code ? { code: err.info.code } : {};
}

/** Exponential backoff after the n-th failure in a row inside one attempt, capped at 10 s, jittered. */
function backoffMs(baseMs: number, failures: number): number {
  return jitter(Math.min(baseMs * 2 ** failures, 10_000));
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
