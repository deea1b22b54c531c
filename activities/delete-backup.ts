/**
 * The deletion activity, the same for every provider: request the deletion, then observe it until a
 * terminal state. Progress is recorded in heartbeat details, so a retried attempt (worker crash,
 * transient error while polling) resumes observing instead of calling delete again (promise 3).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ItemOutcome, ItemRef } from '../workflows/model';
import { FAILURE } from '../contract/failure-types';
import { outcomeBase, truncateReason } from '../contract/outcome-shape';
import { BUSY_RETRY_DELAY_MS, isRetryableKind } from '../contract/retry-rules';
import type { CallContext, DeletionHandle, Observation, ProviderAdapter } from './providers/adapter';
import { isProviderError, ProviderError, type ProviderErrorKind } from './provider-error';
import { jitter, PollSchedule } from './deletion-timing';
import type { HeartbeatRecorded } from './heartbeat-recorded';
import { rateWaitMs } from '../contract/rate-window';

export interface DeleteBackupInput {
  item: ItemRef;
  pollIntervalMs: number;
  /** The provider already accepted this deletion (a group handed it on): observe, never delete again. */
  accepted?: AcceptedDeletion;
  /** A group's delete request for this item failed with this: the first attempt fails with it too. */
  groupError?: GroupRequestError;
  /** The run that wants it deleted: nothing is requested once that run is no longer running. */
  runWorkflowId?: string;
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

/**
 * Asked right before a delete request goes out: why it must not (the run that wants it stopped), or
 * undefined. See activities/run-liveness.ts.
 */
export type RequestGate = (runWorkflowId: string) => Promise<string | undefined>;

/** The outcome of an item not requested because its run no longer runs (the lane stops that run's items). */
function notRequested(item: ItemRef, why: string): Outcome {
  return { ...outcomeBase(item), outcome: 'skipped', reason: truncateReason(why), code: FAILURE.RunStopped };
}

export async function deleteBackupWith(
  adapter: ProviderAdapter,
  input: DeleteBackupInput,
  gate: RequestGate | undefined,
  recorded: HeartbeatRecorded,
): Promise<Outcome> {
  const ctx = Context.current();
  const { item } = input;
  const call = { signal: ctx.cancellationSignal };

  const saved = ctx.info.heartbeatDetails as DeletionProgress | { phase: 'requesting' } | undefined;
  const never = adapter.neverRepeatDelete;
  // A request that may have reached the provider without its answer being recorded: never sent again.
  if (saved?.phase === 'requesting' && never) return watchUnanswered(never, item, input.pollIntervalMs, call);
  let progress = saved?.phase === 'accepted' ? saved : undefined;
  /** Set when this attempt's own request was accepted: its deletion time teaches the first poll. */
  let acceptedAt: number | undefined;
  if (!progress && input.accepted) progress = { phase: 'accepted', ...input.accepted };
  if (!progress) {
    // Temporal then treats the group's failed request as this activity's first failed attempt: the same
    // backoff, Retry-After, retry budget and typed failure as a request made here, without a new call.
    const { groupError } = input;
    if (groupError && ctx.info.attempt === 1)
      throw toFailure(new ProviderError(groupError.kind, groupError.message, groupError.info));
    const stopped = input.runWorkflowId && gate ? await gate(input.runWorkflowId) : undefined;
    if (stopped && saved?.phase !== 'requesting') return notRequested(item, stopped);
    const requested = never
      ? await requestOnce(adapter, item, input.pollIntervalMs, call, recorded)
      : await requestDeletion(adapter, item, call).catch((err: unknown) => {
          throw isProviderError(err) ? toFailure(err) : err;
        });
    if ('outcome' in requested) return requested.outcome;
    progress = { phase: 'accepted', ...requested.accepted };
    // Recorded at once when it is the first heartbeat (not throttled), before any wait.
    ctx.heartbeat(progress);
    acceptedAt = Date.now();
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
    if (outcome) return outcome;
    progress = { ...progress, lastStatus: (seen as { status: string }).status };
    ctx.heartbeat(progress);
  }
}

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
async function requestOnce(
  adapter: ProviderAdapter,
  item: ItemRef,
  pollIntervalMs: number,
  call: CallContext,
  recorded: HeartbeatRecorded,
): Promise<{ outcome: Outcome } | { accepted: AcceptedDeletion }> {
  const ctx = Context.current();
  ctx.heartbeat({ phase: 'requesting' });
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
        code: FAILURE.UnansweredRequest,
      };
    await ctx.sleep(jitter(Math.max(pollIntervalMs, 1_000)));
  }
}

export interface DeleteBackupsInput {
  /** Items of one account, at most one entry per backup. */
  items: ItemRef[];
  pollIntervalMs: number;
  /** Absent: every item is requested at once (a plain group). Present: a pipelined group. */
  pipeline?: PipelineInput;
  /** The run that wants them deleted (one run per group): nothing is requested once it stopped. */
  runWorkflowId?: string;
}

/**
 * A pipelined group holds `slots` of the account's window: the first `slots` items (admitted by the
 * lane) start at once, each later item as soon as an earlier one finishes, so a slot is never idle
 * between two deletions for a workflow round trip. Later items start only within `startWithinMs` of the
 * group being scheduled, within the account's request rate (the lane's recent starts included), and
 * only while nothing has gone wrong: after the first failure, error or straggler the group stops
 * starting and hands the rest back (`notStarted`), so the lane's breaker, retries and controls decide.
 */
export interface PipelineInput {
  slots: number;
  startWithinMs: number;
  requestsPerSecond: number;
  /** The lane's recent start times (ascending), without the group's first `slots` items. */
  recentStarts: number[];
  /**
   * Hand over at the window's end (for deletions longer than the window: when the first slot comes
   * free after it): the group returns, giving the deletions still in progress back as `handedOver`
   * instead of waiting for them, so the lane's next group observes them and its slots go on without
   * idling through the slowest item and a round trip.
   */
  handOver?: boolean;
  /** Deletions handed over by the previous group: the first `resumed.length` items, observed, not requested. */
  resumed?: HandedOver[];
}

/** A deletion still in progress when its group's window closed. */
export interface HandedOver {
  accepted: AcceptedDeletion;
  /** When the provider accepted the delete (ms epoch): the next group's first poll is timed from it. */
  acceptedAt: number;
}

/**
 * Per item, in input order: its outcome, or the item to continue as its own deleteBackup activity
 * (with what the provider accepted, or null when the delete was not accepted yet), or, in a pipelined
 * group, an item never requested. `requestedAt` (pipelined groups) is when its delete went out.
 */
export type GroupItemResult = (
  | { outcome: Outcome }
  | { continueWith: AcceptedDeletion }
  | { continueWith: null; requestError: GroupRequestError }
  | { notStarted: true }
  | { handedOver: HandedOver }
) & { requestedAt?: number };

/**
 * Heartbeat details of a group: one entry per input item, null while not requested or unanswered. A
 * retried attempt resumes the accepted ones and requests only items without an entry.
 */
type GroupEntry = (
  { outcome: Outcome } | { accepted: AcceptedDeletion; handOff?: true } | { requestError: GroupRequestError }
) & { requestedAt?: number };

/**
 * Once no more items will start, a group finishes when its first outcome since then is this many poll
 * intervals old (a pipelined group also waits the longest deletion it has seen), handing its
 * still-pending items on: slots of finished items are never held much longer than the slowest item.
 */
export const HAND_OFF_AFTER_POLLS = 2;

/** A group's heartbeat calls within this long are one call (see `save` in deleteBackupsWith). */
const GROUP_HEARTBEAT_COALESCE_MS = 200;

/**
 * The fast path for items of one account: requests the deletions, records what was accepted in the
 * group's heartbeat, and observes them, so a group costs one activity and a few heartbeats instead of
 * one of each per item. Only the happy path lives here: any error, and any item still pending when the
 * group finishes, is handed back to the lane, which continues that item as its own deleteBackup
 * activity (with the accepted handle, so nothing is deleted twice); retries, backoff and failures stay
 * in one place.
 */
export async function deleteBackupsWith(
  adapter: ProviderAdapter,
  input: DeleteBackupsInput,
  gate?: RequestGate,
): Promise<GroupItemResult[]> {
  const ctx = Context.current();
  if (adapter.neverRepeatDelete)
    // The lane never groups these (workflows/model.ts NEVER_REPEAT_DELETE): a group records its requests only after them.
    throw ApplicationFailure.create({
      type: FAILURE.AccountConfigError,
      message:
        "deleteBackups: this provider's deletes must never be repeated; they run one item per activity",
      nonRetryable: true,
    });
  const call = { signal: ctx.cancellationSignal };
  const { items, pollIntervalMs, pipeline } = input;
  const saved = ctx.info.heartbeatDetails as { group: (GroupEntry | null)[] } | undefined;
  const resumed = pipeline?.resumed ?? [];
  const entries: (GroupEntry | undefined)[] = items.map(
    (_, i) => saved?.group[i] ?? (resumed[i] ? { accepted: resumed[i].accepted } : undefined),
  );
  // Heartbeats carry the whole group's entries: changes within GROUP_HEARTBEAT_COALESCE_MS go out as
  // one call (the SDK sends at most one every 2 s anyway; serializing each change cost more CPU than
  // the deletions' HTTP). `saveNow` for the first heartbeat and before throwing.
  let pendingSave: NodeJS.Timeout | undefined;
  const saveNow = () => {
    clearTimeout(pendingSave);
    pendingSave = undefined;
    if (!over) ctx.heartbeat({ group: entries.map((e) => e ?? null) });
  };
  const save = () => (pendingSave ??= setTimeout(saveNow, GROUP_HEARTBEAT_COALESCE_MS));
  const account = items[0]!.account;

  // Which items may still start: all of a plain group; a pipelined group's while its window is open.
  const startsUntil = pipeline ? ctx.info.scheduledTimestampMs + pipeline.startWithinMs : Infinity;
  const recentStarts = pipeline ? [...pipeline.recentStarts] : [];
  let next = pipeline ? pipeline.slots : items.length;
  let trouble = false;
  /** Set at the window's end of a handing-over group: no request goes out after it. */
  let handingOver = false;
  /** Set once the group handed its deletions in progress over: nothing more is recorded here. */
  let over = false;
  /** Set when no more items will start: the straggler clock runs from the first outcome after it. */
  let closedAt: number | undefined;
  let firstOutcomeAt: number | undefined;
  let longestMs = 0;
  const close = () => (closedAt ??= Date.now());
  /** Why nothing more may be requested (the run stopped), checked before each request. */
  let stoppedBy: string | undefined;
  const runStopped = async () =>
    (stoppedBy ??= input.runWorkflowId && gate ? await gate(input.runWorkflowId) : undefined);
  const claim = async (): Promise<number | undefined> => {
    for (;;) {
      while (next < items.length && entries[next]) next++; // already requested by an earlier attempt
      if (!trouble && !handingOver && next < items.length && (await runStopped())) trouble = true;
      if (trouble || handingOver || next >= items.length || Date.now() >= startsUntil) {
        close();
        return undefined;
      }
      const wait = rateWaitMs(recentStarts, pipeline!.requestsPerSecond, Date.now());
      if (wait === 0) {
        recentStarts.push(Date.now());
        return next++;
      }
      await ctx.sleep(wait);
    }
  };
  const handOffDue = () =>
    firstOutcomeAt !== undefined &&
    Date.now() - firstOutcomeAt >= HAND_OFF_AFTER_POLLS * pollIntervalMs + (pipeline ? longestMs : 0);
  /** Items this attempt saw end (a deletion shorter than the window shows in it). */
  let outcomesSeen = 0;
  const settle = (i: number, outcome: Outcome, requestedAt?: number) => {
    entries[i] = { outcome, ...(requestedAt ? { requestedAt } : {}) };
    outcomesSeen++;
    if (outcome.outcome === 'failed') trouble = true;
    if (closedAt !== undefined) firstOutcomeAt ??= Date.now();
  };

  /** Requests one item's deletion and records the answer in `entries` (not yet in a heartbeat). */
  const acceptedAt = new Map<number, number>(resumed.map((r, i) => [i, r.acceptedAt]));
  const requesting = new Set<Promise<void>>();
  const request = (i: number): Promise<void> => {
    const p = requestOne(i).finally(() => requesting.delete(p));
    requesting.add(p);
    return p;
  };
  const requestOne = async (i: number): Promise<void> => {
    if (handingOver) return; // claimed just before the window's end: stays not started
    const requestedAt = Date.now();
    if (pipeline && i < pipeline.slots) recentStarts.push(requestedAt); // claim() counted the others
    try {
      const requested = await requestDeletion(adapter, items[i]!, call);
      if ('outcome' in requested) settle(i, requested.outcome, requestedAt);
      else {
        entries[i] = { accepted: requested.accepted, requestedAt };
        acceptedAt.set(i, Date.now());
      }
    } catch (err) {
      if (!isProviderError(err)) throw err;
      entries[i] = { requestError: { kind: err.kind, message: err.message, info: err.info }, requestedAt };
      trouble = true;
    }
  };

  /** Observes one accepted item to its outcome, or hands it on (poll error, straggler). */
  const observe = async (i: number): Promise<void> => {
    const item = items[i]!;
    const since = acceptedAt.get(i);
    const polls = new PollSchedule(
      account,
      pollIntervalMs,
      since === undefined ? undefined : Date.now() - since,
    );
    for (;;) {
      const e = entries[i];
      if (over || !e || !('accepted' in e) || e.handOff) return;
      if (handOffDue()) {
        entries[i] = { ...e, handOff: true };
        return;
      }
      await ctx.sleep(polls.next());
      const polledAt = Date.now();
      let seen: Observation;
      try {
        seen = await adapter.observeDeletion(item, e.accepted.handle, call);
      } catch (err) {
        if (over) return;
        if (!isProviderError(err)) throw err;
        if (err.kind !== 'not-found') {
          entries[i] = { ...e, handOff: true };
          trouble = true;
          save();
          return;
        }
        seen = { state: 'gone' };
      }
      if (over) return; // handed over meanwhile: the next group reports it
      const outcome = outcomeOf(item, seen, e.accepted.handle);
      if (since !== undefined) polls.observed(polledAt - since, seen.state !== 'pending');
      if (outcome) {
        if (since !== undefined) longestMs = Math.max(longestMs, polledAt - since);
        settle(i, outcome, e.requestedAt);
        save();
        return;
      }
      entries[i] = { ...e, accepted: { ...e.accepted, lastStatus: (seen as { status: string }).status } };
      save();
    }
  };

  // The items started at once (the admitted ones an earlier attempt did not request) are requested
  // together and recorded in ONE heartbeat, the first of the attempt, which is sent at once; every
  // request is answered (or fails) before anything is thrown, so what was accepted is recorded.
  const admitted = Math.min(pipeline?.slots ?? items.length, items.length);
  const fresh = items.flatMap((_, i) => (i < admitted && !entries[i] ? [i] : []));
  if (fresh.length && (await runStopped()))
    for (const i of fresh.splice(0)) entries[i] = { outcome: notRequested(items[i]!, stoppedBy!) };
  const asked = await Promise.allSettled(fresh.map(request));
  saveNow();
  rethrowFirst(asked);
  if (!pipeline) close();

  // Each slot observes its item to the end, then (pipelined) requests and observes the next it claims.
  // A later item's acceptance reaches the server with the next heartbeat (at most 2 s later, see
  // worker/worker.ts): a crash in between makes the retry request it again, which finds it gone or
  // deleting, never a second deletion of a provider whose deletes may not repeat (those never group).
  let slotFreed: (() => void) | undefined;
  const slot = async (resume?: number): Promise<void> => {
    if (resume !== undefined) await observe(resume);
    slotFreed?.();
    if (!pipeline) return;
    for (let i = await claim(); i !== undefined; i = await claim()) {
      await request(i);
      save();
      await observe(i);
      slotFreed?.();
    }
  };
  const inProgress = entries.flatMap((e, i) => (e && 'accepted' in e && !e.handOff ? [i] : []));
  const slotCount = pipeline ? Math.max(pipeline.slots, inProgress.length) : inProgress.length;
  const slots = Promise.allSettled(Array.from({ length: slotCount }, (_, k) => slot(inProgress[k])));
  if (pipeline?.handOver) {
    const windowEnd = ctx.sleep(Math.max(0, startsUntil - Date.now())).then(() => 'window end' as const);
    if ((await Promise.race([slots, windowEnd])) === 'window end') {
      // Nothing starts after the window's end. Deletions shorter than the window (one finished within
      // it) are handed over at once: the round trip to the next group overlaps what is left of them.
      // Longer ones are handed over when the first slot comes free (nothing idles before): deletions
      // of minutes must not cost a group activity per window.
      const firstFree = new Promise<'free'>((resolve) => (slotFreed = () => resolve('free')));
      if (outcomesSeen > 0 || (await Promise.race([slots, firstFree])) === 'free') {
        handingOver = true;
        close();
        // Every request that went out answered: what was accepted is known and handed over.
        while (requesting.size) await Promise.allSettled([...requesting]);
        over = true;
      }
    }
  }
  if (!over) {
    const settled = await slots;
    saveNow(); // what a retry resumes from
    rethrowFirst(settled);
  }
  clearTimeout(pendingSave);

  return entries.map((e, i) => {
    const at = e?.requestedAt ? { requestedAt: e.requestedAt } : {};
    if (e && 'outcome' in e) return { outcome: e.outcome, ...at };
    if (e && 'accepted' in e && over && !e.handOff && acceptedAt.has(i))
      return { handedOver: { accepted: e.accepted, acceptedAt: acceptedAt.get(i)! }, ...at };
    if (e && 'accepted' in e) return { continueWith: e.accepted, ...at };
    if (e && 'requestError' in e) return { continueWith: null, requestError: e.requestError, ...at };
    return pipeline ? { notStarted: true } : { continueWith: null, requestError: lostRequest };
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
function outcomeOf(item: ItemRef, seen: Observation, handle?: DeletionHandle): Outcome | undefined {
  const base = outcomeBase(item);
  // An accepted answer that did not match its documented shape is said in the reason (not a failure).
  const note = handle?.note ? `; ${handle.note}` : '';
  switch (seen.state) {
    case 'gone':
      return {
        ...base,
        outcome: 'deleted',
        reason: truncateReason(`provider confirmed the deletion${note}`),
      };
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
        nextRetryDelay: err.info.retryAfterMs ?? (err.kind === 'busy' ? BUSY_RETRY_DELAY_MS : undefined),
      });
    case 'misconfigured':
      return ApplicationFailure.create({
        type: FAILURE.AccountMisconfigured,
        message: err.message,
        details,
        nonRetryable: true,
      });
    case 'malformed':
      return ApplicationFailure.create({
        type: FAILURE.InvalidProviderResponse,
        message: err.message,
        details,
        nonRetryable: true,
      });
    default:
      return ApplicationFailure.create({
        type: FAILURE.ProviderRejected,
        message: err.message,
        details,
        nonRetryable: true,
      });
  }
}
