/**
 * The deletion group (deleteBackups): several items of one account in one activity, the lane's fast
 * path; pipelined, it starts each later item as an earlier one finishes. Never used for never-repeat
 * providers (contract/model.ts NEVER_REPEAT_DELETE).
 */
import { setMaxListeners } from 'node:events';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ItemRef } from '../../contract/model';
import { FAILURE } from '../../contract/failure-types';
import { outcomeBase } from '../../contract/outcome-shape';
import { rateWaitMs } from '../../contract/rate-window';
import type { Observation, ProviderAdapter } from '../providers/adapter';
import { isProviderError, toFailure, type ProviderError } from '../provider-error';
import { PollSchedule } from '../deletion-timing';
import type { HeartbeatRecorded } from '../heartbeat-recorded';
import { inspectResent, RETRY_GONE } from '../resent-items';
import type {
  AcceptedDeletion,
  DeleteBackupsInput,
  GroupItemResult,
  GroupRequestError,
  Outcome,
  PipelineInput,
  RequestGate,
} from './contract';
import {
  ACK_LOST_REASON,
  answerMayBeLost,
  decided,
  notRequested,
  outcomeOf,
  requestDeletion,
  settleForStoppedRun,
} from './shared';

/**
 * Heartbeat details of a group: one entry per input item, null while not requested or unanswered. A
 * retried attempt resumes the accepted ones and requests only items without an entry.
 */
type GroupEntry = (
  | { outcome: Outcome }
  | { accepted: AcceptedDeletion; handOff?: true }
  | { requestError: GroupRequestError }
  // About to be requested, or requested and not answered yet (README "Guarantees": The report never contradicts the provider).
  | { requesting: true }
  // A later item of a pipelined group, seen still there and announced ahead of its request: a retry
  // that finds it gone reads our deletion (the request may have gone out after the announcement).
  | { announced: true }
) & { requestedAt?: number };

/**
 * Once no more items will start, a group finishes when its first outcome since then is this many poll
 * intervals old (a pipelined group also waits the longest deletion it has seen), handing its
 * still-pending items on: slots of finished items are never held much longer than the slowest item.
 */
export const HAND_OFF_AFTER_POLLS = 2;

/** Items a retried group reads at once before requesting (see deleteBackupsWith). */
const INSPECT_AT_ONCE = 10;

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
  gate: RequestGate | undefined,
  recorded: HeartbeatRecorded,
): Promise<GroupItemResult[]> {
  if (adapter.neverRepeatDelete)
    // The lane never groups these (contract/model.ts NEVER_REPEAT_DELETE): a group records its requests only after them.
    throw ApplicationFailure.create({
      type: FAILURE.AccountConfigError,
      message:
        "deleteBackups: this provider's deletes must never be repeated; they run one item per activity",
      nonRetryable: true,
    });
  return new DeletionGroup(adapter, input, gate, recorded).run();
}

/**
 * One attempt of a deletion group (deleteBackupsWith): its items' entries (what the heartbeat
 * records), its slots and, for a pipelined group, its window. The state a retried attempt needs lives
 * in `entries` and reaches the server in the group's heartbeats.
 */
class DeletionGroup {
  private readonly ctx = Context.current();
  private readonly call = { signal: this.ctx.cancellationSignal };
  private readonly items: ItemRef[];
  private readonly pipeline?: PipelineInput;
  private readonly account: string;
  private readonly entries: (GroupEntry | undefined)[];
  /**
   * Requests an earlier attempt recorded as going out but not their answers: the provider may have
   * accepted them. They are requested again at once (they held slots), and a 404 is our deletion.
   */
  private readonly unanswered: Set<number>;
  /**
   * Items an earlier attempt announced (seen there, about to be requested): the request may have gone
   * out after the announcement, so gone now is our deletion (resolveAnnounced).
   */
  private readonly announcedEarlier: number[];
  /** Earlier announced items still there at the retry: requested as `unanswered` ones are (a 404 is ours). */
  private readonly mayBeOurs = new Set<number>();
  /** Announced items the server holds in a heartbeat: only these may be requested (claim). */
  private readonly cleared = new Set<number>();
  /** Wakes the announcer and the slots waiting for it (see announceAhead). */
  private changed = new Change();
  /** The sequence number of the group's last heartbeat (heartbeat-recorded.ts waits for one). */
  private seq = 0;
  private pendingSave: NodeJS.Timeout | undefined;
  /** Which items may still start: all of a plain group; a pipelined group's while its window is open. */
  private readonly startsUntil: number;
  private readonly recentStarts: number[];
  private next: number;
  private trouble = false;
  /** Set at the window's end of a handing-over group: no request goes out after it. */
  private handingOver = false;
  /** Set once the group handed its deletions in progress over: nothing more is recorded here. */
  private over = false;
  /** Set when no more items will start: the straggler clock runs from the first outcome after it. */
  private closedAt: number | undefined;
  private firstOutcomeAt: number | undefined;
  private longestMs = 0;
  /** Why nothing more may be requested (the run stopped), checked before each request. */
  private stoppedBy: string | undefined;
  /** Items this attempt saw end (a deletion shorter than the window shows in it). */
  private outcomesSeen = 0;
  private readonly acceptedAt: Map<number, number>;
  private readonly requesting = new Set<Promise<void>>();
  private slotFreed: (() => void) | undefined;

  constructor(
    private readonly adapter: ProviderAdapter,
    private readonly input: DeleteBackupsInput,
    private readonly gate: RequestGate | undefined,
    private readonly recorded: HeartbeatRecorded,
  ) {
    const { items, pipeline } = input;
    // Every request of the group listens on the attempt's signal: its reads ahead and its slots' calls
    // together pass Node's default of 10 (a leak warning, not a leak).
    setMaxListeners(INSPECT_AT_ONCE + 4 * items.length, this.call.signal);
    this.items = items;
    if (pipeline) this.pipeline = pipeline;
    this.account = items[0]!.account;
    const saved = this.ctx.info.heartbeatDetails as { group: (GroupEntry | null)[] } | undefined;
    const resumed = pipeline?.resumed ?? [];
    this.entries = items.map(
      (_, i) => saved?.group[i] ?? (resumed[i] ? { accepted: resumed[i].accepted } : undefined),
    );
    this.unanswered = new Set(this.entries.flatMap((e, i) => (e && 'requesting' in e ? [i] : [])));
    this.announcedEarlier = this.entries.flatMap((e, i) => (e && 'announced' in e ? [i] : []));
    for (const i of [...this.unanswered, ...this.announcedEarlier]) this.entries[i] = undefined;
    this.startsUntil = pipeline ? this.ctx.info.scheduledTimestampMs + pipeline.startWithinMs : Infinity;
    this.recentStarts = pipeline ? [...pipeline.recentStarts] : [];
    this.next = pipeline ? pipeline.slots : items.length;
    this.acceptedAt = new Map(resumed.map((r, i) => [i, r.acceptedAt]));
  }

  async run(): Promise<GroupItemResult[]> {
    if (this.ctx.info.attempt > 1) {
      await this.resolveAnnounced();
      await this.readUnrecorded();
    }
    await this.startAdmitted();
    // Each slot observes its item to the end, then (pipelined) requests and observes the next it
    // claims, once the server holds its announcement (announceAhead runs beside the slots).
    const announcing = this.pipeline ? this.announceAhead() : undefined;
    const inProgress = this.entries.flatMap((e, i) => (e && 'accepted' in e && !e.handOff ? [i] : []));
    const slotCount = this.pipeline ? Math.max(this.pipeline.slots, inProgress.length) : inProgress.length;
    const slots = Promise.allSettled(Array.from({ length: slotCount }, (_, k) => this.slot(inProgress[k])));
    if (this.pipeline?.handOver) await this.handOverAtWindowEnd(slots);
    if (!this.over) {
      const settled = await slots;
      this.close();
      this.saveNow(); // what a retry resumes from
      rethrowFirst(settled);
    }
    this.close();
    this.changed.notify();
    void announcing; // ends on its own once nothing more starts (it never throws)
    clearTimeout(this.pendingSave);
    return this.results();
  }

  // ---- heartbeats: the whole group's entries ----

  /**
   * Heartbeats carry the whole group's entries: changes within GROUP_HEARTBEAT_COALESCE_MS go out as
   * one call (the SDK sends at most one every 2 s anyway; serializing each change cost more CPU than
   * the deletions' HTTP). `saveNow` for the first heartbeat and before throwing.
   */
  private saveNow(): number {
    clearTimeout(this.pendingSave);
    this.pendingSave = undefined;
    if (!this.over) this.ctx.heartbeat({ group: this.entries.map((e) => e ?? null), seq: ++this.seq });
    return this.seq;
  }

  private save(): void {
    this.pendingSave ??= setTimeout(() => this.saveNow(), GROUP_HEARTBEAT_COALESCE_MS);
  }

  // ---- which item starts next ----

  private close(): void {
    this.closedAt ??= Date.now();
  }

  private async runStopped(): Promise<string | undefined> {
    const run = this.input.runWorkflowId;
    return (this.stoppedBy ??= run && this.gate ? await this.gate(run) : undefined);
  }

  private async claim(): Promise<number | undefined> {
    const { items, entries } = this;
    for (;;) {
      // Skipped: requested by an earlier attempt, or found gone when read ahead.
      while (this.next < items.length && entries[this.next] && !('announced' in entries[this.next]!))
        this.next++;
      if (!this.trouble && !this.handingOver && this.next < items.length && (await this.runStopped()))
        this.trouble = true;
      if (this.startsNoMore()) {
        this.close();
        this.changed.notify();
        return undefined;
      }
      if (!this.cleared.has(this.next)) {
        // Its announcement is not on the server yet (it could not be read with the others): the slot
        // waits for announceAhead, woken now to read it again.
        this.changed.notify();
        await this.changed.wait(this.startsUntil - Date.now());
        continue;
      }
      const wait = rateWaitMs(this.recentStarts, this.pipeline!.requestsPerSecond, Date.now());
      if (wait === 0) {
        this.recentStarts.push(Date.now());
        return this.next++;
      }
      await this.ctx.sleep(wait);
    }
  }

  /** No item starts any more: trouble, hand-over, the window's end, or none left. */
  private startsNoMore(): boolean {
    return (
      this.trouble ||
      this.handingOver ||
      this.over ||
      this.closedAt !== undefined ||
      this.next >= this.items.length ||
      Date.now() >= this.startsUntil
    );
  }

  private handOffDue(): boolean {
    return (
      this.firstOutcomeAt !== undefined &&
      Date.now() - this.firstOutcomeAt >=
        HAND_OFF_AFTER_POLLS * this.input.pollIntervalMs + (this.pipeline ? this.longestMs : 0)
    );
  }

  private settle(i: number, outcome: Outcome, requestedAt?: number): void {
    this.entries[i] = { outcome: decided(outcome), ...(requestedAt ? { requestedAt } : {}) };
    this.outcomesSeen++;
    if (outcome.outcome === 'failed') this.trouble = true;
    if (this.closedAt !== undefined) this.firstOutcomeAt ??= Date.now();
  }

  // ---- requests ----

  /** Requests one item's deletion and records the answer in `entries` (not yet in a heartbeat). */
  private request(i: number): Promise<void> {
    const p = this.requestOne(i).finally(() => this.requesting.delete(p));
    this.requesting.add(p);
    return p;
  }

  private async requestOne(i: number): Promise<void> {
    if (this.handingOver) return; // claimed just before the window's end: stays not started
    const requestedAt = Date.now();
    if (this.pipeline && i < this.pipeline.slots) this.recentStarts.push(requestedAt); // claim() counted the others
    // In the next heartbeat the group sends (the first one, at once, for the items started together).
    this.entries[i] = { requesting: true, requestedAt };
    try {
      const requested = await requestDeletion(
        this.adapter,
        this.items[i]!,
        this.call,
        this.unanswered.has(i) || this.mayBeOurs.has(i),
      );
      if ('outcome' in requested) this.settle(i, requested.outcome, requestedAt);
      else {
        this.entries[i] = { accepted: requested.accepted, requestedAt };
        this.acceptedAt.set(i, Date.now());
      }
    } catch (err) {
      if (!isProviderError(err)) throw err;
      this.entries[i] = {
        requestError: {
          kind: err.kind,
          message: err.message,
          info: err.info,
          ...(answerMayBeLost(err) || this.unanswered.has(i) || this.mayBeOurs.has(i)
            ? { mayBeAccepted: true as const }
            : {}),
        },
        requestedAt,
      };
      this.trouble = true;
    }
  }

  /**
   * A retried attempt (the worker was lost): the earlier one may have had items accepted whose record
   * never reached a heartbeat. Each item without a record is read first, like a re-sent item (README,
   * "Guarantees": one deletion per backup).
   */
  private async readUnrecorded(): Promise<void> {
    const { items, entries, unanswered } = this;
    // Not the unanswered ones: their "requesting" record says the request may be ours, so they are
    // requested again and a 404 reads as our deletion (startAdmitted), never as `absent`.
    const earlier = new Set(this.announcedEarlier);
    const unrecorded = items.flatMap((_, i) =>
      entries[i] || unanswered.has(i) || earlier.has(i) ? [] : [i],
    );
    await eachAtMost(INSPECT_AT_ONCE, unrecorded, async (i) => {
      // Unreadable: requested as before (the provider answers a repeat as busy or not found).
      const seen = await inspectResent(this.adapter, items[i]!, this.call).catch(() => 'present' as const);
      if (seen === 'gone')
        entries[i] = {
          outcome: decided({ ...outcomeBase(items[i]!), outcome: 'absent', reason: RETRY_GONE }),
        };
      else if (seen === 'deleting') entries[i] = { accepted: { handle: {} } };
    });
  }

  // ---- announcing later items ahead of their requests ----

  /**
   * README "Guarantees": The report never contradicts the provider. A later item of a pipelined group
   * is requested only once the server holds a heartbeat naming it (`announced`): a worker lost right
   * after the provider accepted it leaves a retry that knows the request may be ours (resolveAnnounced).
   * The SDK sends at most one heartbeat per 2 s, so every later item is announced at once, in the
   * group's first heartbeat with the admitted ones (startAdmitted), each read first: one still there is
   * announced, one already gone is `absent` (honestly: gone before we asked), so an announced item
   * that was never requested cannot read `deleted` after a crash. The group's items are what the lane
   * expects it to start in its window (plus a spare per slot; workflows/lane/pipeline-depth.ts), so few
   * reads are wasted. This loop announces the items that could not be read then, as they can be.
   * Runs beside the slots until nothing more starts; never throws (a slot then waits for the window).
   */
  private async announceAhead(): Promise<void> {
    while (!this.startsNoMore()) {
      try {
        const fresh = await this.readAhead();
        if (!fresh.length) {
          if (this.nextUnread() === undefined) return; // every item is announced or decided
          await this.changed.wait(1_000); // unreadable for now: read again soon
          continue;
        }
        await this.recorded(this.saveNow(), () => !this.startsNoMore());
        this.clear(fresh);
      } catch (err) {
        this.ctx.log.warn('could not announce the next items of a deletion group', { error: String(err) });
        await this.changed.wait(1_000);
      }
    }
  }

  private nextUnread(): number | undefined {
    for (let i = this.next; i < this.items.length; i++)
      if (!this.entries[i] && !this.unanswered.has(i)) return i;
    return undefined;
  }

  /**
   * Reads the later items no one has announced and marks those still there `announced` (in the group's
   * next heartbeat); those already gone are `absent`. Unreadable ones are left for the next round.
   * Returns the items it announced.
   */
  private async readAhead(): Promise<number[]> {
    const { items, entries } = this;
    const toRead: number[] = [];
    for (let i = this.next; i < items.length; i++) if (!entries[i] && !this.unanswered.has(i)) toRead.push(i);
    const fresh: number[] = [];
    await eachAtMost(INSPECT_AT_ONCE, toRead, async (i) => {
      const seen = await inspectResent(this.adapter, items[i]!, this.call).catch(() => undefined);
      if (seen === undefined || entries[i]) return;
      if (seen === 'gone')
        entries[i] = {
          outcome: decided(
            // Announced by an earlier attempt and unreadable at its resolveAnnounced: possibly ours.
            this.mayBeOurs.has(i)
              ? { ...outcomeBase(items[i]!), outcome: 'deleted', reason: ACK_LOST_REASON }
              : { ...outcomeBase(items[i]!), outcome: 'absent', reason: GONE_BEFORE_REQUEST },
          ),
        };
      // A deletion someone else started ('deleting') is announced too: the request finds it busy.
      else {
        entries[i] = { announced: true };
        fresh.push(i);
      }
    });
    return fresh;
  }

  /** Announced items the server now holds: the slots may request them. */
  private clear(announced: number[]): void {
    for (const i of announced) if (this.entries[i] && 'announced' in this.entries[i]!) this.cleared.add(i);
    if (announced.length) this.changed.notify();
  }

  /**
   * A retried attempt: items the earlier one announced may have been requested and accepted after the
   * announcement, the answer lost with the worker. Read now: gone is our deletion (`deleted`, the
   * acknowledgement lost; they were there when announced), a deletion running is observed, still there
   * is requested as usual (a 404 then is ours too); so are unreadable ones (read again before their
   * announcement, gone then is ours too), never requested at once as unanswered ones are: a claim
   * checks the run still runs, and an item announced after its run stopped was never requested.
   */
  private async resolveAnnounced(): Promise<void> {
    const { items, entries } = this;
    const earlier = this.announcedEarlier;
    await eachAtMost(INSPECT_AT_ONCE, earlier, async (i) => {
      const seen = await inspectResent(this.adapter, items[i]!, this.call).catch(() => undefined);
      if (seen === undefined) this.mayBeOurs.add(i);
      else if (seen === 'gone')
        entries[i] = {
          outcome: decided({ ...outcomeBase(items[i]!), outcome: 'deleted', reason: ACK_LOST_REASON }),
        };
      else if (seen === 'deleting') entries[i] = { accepted: { handle: {} } };
      else this.mayBeOurs.add(i);
    });
  }

  /** Items an earlier attempt requested without an answer, in a run that stopped since (settleForStoppedRun). */
  private async settleUnansweredForStoppedRun(unansweredItems: number[]): Promise<void> {
    let unreadable: ProviderError | undefined;
    await eachAtMost(INSPECT_AT_ONCE, unansweredItems, async (i) => {
      try {
        const found = await settleForStoppedRun(this.adapter, this.items[i]!, this.call, this.stoppedBy!);
        this.entries[i] = 'outcome' in found ? { outcome: decided(found.outcome) } : found;
      } catch (err) {
        if (!isProviderError(err)) throw err;
        this.entries[i] = { requesting: true }; // still maybe ours: the next attempt reads it again
        unreadable ??= err;
      }
    });
    if (unreadable) {
      this.saveNow();
      throw toFailure(unreadable);
    }
  }

  /**
   * The items started at once (the admitted ones an earlier attempt did not request) are requested
   * together and recorded in ONE heartbeat, the first of the attempt, which is sent at once; every
   * request is answered (or fails) before anything is thrown, so what was accepted is recorded.
   */
  private async startAdmitted(): Promise<void> {
    const { items, entries, unanswered } = this;
    const admitted = Math.min(this.pipeline?.slots ?? items.length, items.length);
    const fresh = items.flatMap((_, i) => ((i < admitted || unanswered.has(i)) && !entries[i] ? [i] : []));
    if (fresh.length && (await this.runStopped())) {
      for (const i of fresh.filter((k) => !unanswered.has(k)))
        entries[i] = { outcome: decided(notRequested(items[i]!, this.stoppedBy!)) };
      // The unanswered ones' request may have been accepted before the run stopped: read, never asked
      // again (a delete after the stop); unreadable ones stay undecided for the next attempt.
      await this.settleUnansweredForStoppedRun(fresh.filter((k) => unanswered.has(k)));
    }
    const toAsk = fresh.filter((i) => !entries[i]);
    // "requesting" goes out first, in the attempt's first heartbeat, and the requests only once the
    // server holds it (heartbeat-recorded.ts): a worker lost right after the provider accepted them
    // leaves a retry that knows they may be ours (a 404 then is our deletion, not `absent`). Their
    // answers reach the server with the group's next heartbeat.
    for (const i of toAsk) entries[i] = { requesting: true };
    // The first later items are read and announced in the same heartbeat: the first slot to come free
    // finds its next item cleared without waiting for the SDK's next heartbeat (announceAhead).
    const ahead = this.pipeline && !this.stoppedBy ? await this.readAhead() : [];
    if (toAsk.length || ahead.length) await this.recorded(this.saveNow());
    this.clear(ahead);
    const asked = await Promise.allSettled(toAsk.map((i) => this.request(i)));
    this.saveNow();
    rethrowFirst(asked);
    if (!this.pipeline) this.close();
  }

  // ---- observing ----

  private async slot(resume?: number): Promise<void> {
    if (resume !== undefined) await this.observe(resume);
    this.slotFreed?.();
    if (!this.pipeline) return;
    for (let i = await this.claim(); i !== undefined; i = await this.claim()) {
      const asking = this.request(i);
      this.save(); // records "requesting" (entries[i] is set synchronously by request)
      await asking;
      this.save();
      await this.observe(i);
      this.slotFreed?.();
    }
  }

  /** Observes one accepted item to its outcome, or hands it on (poll error, straggler). */
  private async observe(i: number): Promise<void> {
    const item = this.items[i]!;
    const since = this.acceptedAt.get(i);
    const polls = new PollSchedule(
      this.account,
      this.input.pollIntervalMs,
      since === undefined ? undefined : Date.now() - since,
    );
    for (;;) {
      const e = this.entries[i];
      if (this.over || !e || !('accepted' in e) || e.handOff) return;
      if (this.handOffDue()) {
        this.entries[i] = { ...e, handOff: true };
        return;
      }
      await this.ctx.sleep(polls.next());
      const polledAt = Date.now();
      let seen: Observation;
      try {
        seen = await this.adapter.observeDeletion(item, e.accepted.handle, this.call);
      } catch (err) {
        if (this.over) return;
        if (!isProviderError(err)) throw err;
        if (err.kind !== 'not-found') {
          this.entries[i] = { ...e, handOff: true };
          this.trouble = true;
          this.save();
          return;
        }
        seen = { state: 'gone' };
      }
      if (this.over) return; // handed over meanwhile: the next group reports it
      const outcome = outcomeOf(item, seen, e.accepted.handle);
      if (since !== undefined) polls.observed(polledAt - since, seen.state !== 'pending');
      if (outcome) {
        if (since !== undefined) this.longestMs = Math.max(this.longestMs, polledAt - since);
        this.settle(i, outcome, e.requestedAt);
        this.save();
        return;
      }
      this.entries[i] = {
        ...e,
        accepted: { ...e.accepted, lastStatus: (seen as { status: string }).status },
      };
      this.save();
    }
  }

  /**
   * Nothing starts after the window's end. Deletions shorter than the window (one finished within it)
   * are handed over at once: the round trip to the next group overlaps what is left of them. Longer
   * ones are handed over when the first slot comes free (nothing idles before): deletions of minutes
   * must not cost a group activity per window.
   */
  private async handOverAtWindowEnd(slots: Promise<unknown>): Promise<void> {
    const windowEnd = this.ctx
      .sleep(Math.max(0, this.startsUntil - Date.now()))
      .then(() => 'window end' as const);
    if ((await Promise.race([slots, windowEnd])) !== 'window end') return;
    const firstFree = new Promise<'free'>((resolve) => (this.slotFreed = () => resolve('free')));
    if (this.outcomesSeen > 0 || (await Promise.race([slots, firstFree])) === 'free') {
      this.handingOver = true;
      this.close();
      // Every request that went out answered: what was accepted is known and handed over.
      while (this.requesting.size) await Promise.allSettled([...this.requesting]);
      this.over = true;
    }
  }

  private results(): GroupItemResult[] {
    const { over, acceptedAt, pipeline } = this;
    return this.entries.map((e, i) => {
      const at = e?.requestedAt ? { requestedAt: e.requestedAt } : {};
      if (e && 'outcome' in e) return { outcome: e.outcome, ...at };
      if (e && 'accepted' in e && over && !e.handOff && acceptedAt.has(i))
        return { handedOver: { accepted: e.accepted, acceptedAt: acceptedAt.get(i)! }, ...at };
      if (e && 'accepted' in e) return { continueWith: e.accepted, ...at };
      if (e && 'requestError' in e) return { continueWith: null, requestError: e.requestError, ...at };
      return pipeline ? { notStarted: true } : { continueWith: null, requestError: lostRequest };
    });
  }
}

/** A later item read before its announcement and found gone: nothing was requested. */
const GONE_BEFORE_REQUEST = 'already gone before our delete (read before requesting)';

/** Runs `fn` over `list`, at most `n` at once. */
async function eachAtMost<T>(n: number, list: T[], fn: (x: T) => Promise<void>): Promise<void> {
  let k = 0;
  const worker = async () => {
    while (k < list.length) await fn(list[k++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, list.length) }, worker));
}

/** A one-shot wake-up, renewed after each notify: waiters wake on the next change or after `ms`. */
class Change {
  private waiters: (() => void)[] = [];

  notify(): void {
    const woken = this.waiters;
    this.waiters = [];
    for (const w of woken) w();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.push(done);
    });
  }
}

/** Cannot happen (every request settles before the return); kept total so no item is ever dropped. */
const lostRequest: GroupRequestError = {
  kind: 'transient',
  message: 'the group lost track of this request',
  info: {},
};

function rethrowFirst(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
