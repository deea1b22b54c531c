/**
 * A batch's items and their outcomes: what is still to send to each lane, what a lane holds (sent, no
 * outcome yet), exactly one outcome per item, cumulative counts, and when a silent lane gets its open
 * items again. Pure and deterministic (the caller passes `now`); unit-tested in test/batch-items.test.ts.
 */
import type { AcceptedDeletionNote, BatchReport, DeletedBytes } from '../../contract/messages';
import { addDeletedBytes, deletedBytesRecord } from '../deleted-bytes';
import { withDecider } from '../decided-by';
import {
  emptyCounts,
  itemKey,
  type AccountLimits,
  type ItemOutcome,
  type ItemRef,
  type OutcomeCounts,
} from '../../contract/model';

/** Batches feeding lanes at once per run: bounds what one run holds in the lanes. */
export const ACTIVE_BATCHES = 4;
/** Failed/blocked items reported to the run in full (the rest only counted). */
const PROBLEMS_REPORTED = 10;

/**
 * Items a batch may have waiting or running in one lane at once (backpressure). Sized so that the
 * run's ACTIVE_BATCHES batches together hold twice the account's concurrency (the window stays full
 * while chunks are refilled), at least 50 so chunks stay big enough to be cheap (one activity and one
 * signal per chunk), at most 250 so a lane's queue, and what it carries across continue-as-new, stays
 * small.
 */
export function laneWindow(limits: AccountLimits): number {
  return Math.min(250, Math.max(50, Math.ceil((2 * limits.maxConcurrent) / ACTIVE_BATCHES)));
}

/** Items sent to a lane per enqueue: half the window, so it is refilled when half has drained. */
export function chunkSize(limits: AccountLimits): number {
  return Math.ceil(laneWindow(limits) / 2);
}

/**
 * How long a lane may stay silent (no outcome for this batch) before the batch re-sends its open
 * items: a quarter of the deletion deadline, between 15 s and 10 minutes. A silence is normal while
 * deletions are slow (CSBS: up to 30 minutes) and costs only a re-send that the live lane ignores.
 */
export function laneSilenceMs(limits: AccountLimits): number {
  return Math.min(10 * 60_000, Math.max(15_000, Math.floor(limits.deletionDeadlineMs / 4)));
}

export class BatchItems {
  /** The batch's items, duplicates in its input merged: the first occurrence stands for all. */
  readonly items: ItemRef[];
  private readonly expected = new Map<string, ItemRef>();
  private readonly outcomes = new Map<string, ItemOutcome>();
  private readonly counts = emptyCounts();
  private readonly perAccount = new Map<string, OutcomeCounts>();
  /** account → bytes of its deleted items (issue 19) */
  private readonly deletedBytes = new Map<string, DeletedBytes>();
  private readonly problems: ItemOutcome[] = [];
  /** Items that appear again elsewhere in the run (lane/ledger.ts): merged, not counted. */
  private merged = 0;
  /** account → not yet sent */
  readonly pending = new Map<string, ItemRef[]>();
  /** account → sent, no outcome yet */
  readonly open = new Map<string, Map<string, ItemRef>>();
  private readonly chunkSeq = new Map<string, number>();
  /** account → last word from its lane (an outcome or a returned item), or the last enqueue */
  private readonly lastHeard = new Map<string, number>();
  /**
   * key → the handle of a deletion the provider accepted, for open items (see acceptedSignal): sent
   * with a re-send so a restarted lane observes that deletion instead of requesting another.
   */
  private readonly handles = new Map<string, Record<string, string>>();

  constructor(
    input: ItemRef[],
    private readonly limitsOf: (account: string) => AccountLimits,
  ) {
    this.items = input.filter((item) => {
      const key = itemKey(item);
      if (this.expected.has(key)) return false;
      this.expected.set(key, item);
      return true;
    });
    for (const item of this.items) {
      if (!this.pending.has(item.account)) this.pending.set(item.account, []);
      this.pending.get(item.account)!.push(item);
      this.open.set(item.account, new Map());
    }
  }

  get done(): boolean {
    return this.outcomes.size === this.items.length;
  }

  get outcomeCount(): number {
    return this.outcomes.size;
  }

  /** Takes an outcome; duplicates and strays are ignored (one outcome per item). True if it was new. */
  accept(o: ItemOutcome, now?: number): boolean {
    if (now !== undefined) this.lastHeard.set(o.account, now); // any word from the lane proves it is alive
    const key = itemKey(o);
    const item = this.expected.get(key);
    if (!item || this.outcomes.has(key)) return false;
    // Lanes know only the provider ids; the policy's group and decision come from our own item.
    if (item.group) o = { ...o, group: item.group };
    if (item.plan) o = { ...o, plan: item.plan };
    if (item.sizeBytes !== undefined && o.sizeBytes === undefined) o = { ...o, sizeBytes: item.sizeBytes };
    this.outcomes.set(key, o);
    this.open.get(o.account)?.delete(key);
    this.handles.delete(key);
    if (o.duplicate) {
      this.merged++;
      return true;
    }
    this.counts[o.outcome]++;
    const c = this.perAccount.get(o.account) ?? emptyCounts();
    c[o.outcome]++;
    this.perAccount.set(o.account, c);
    if (o.outcome === 'deleted') addDeletedBytes(this.deletedBytes, o.account, o.sizeBytes);
    if ((o.outcome === 'failed' || o.outcome === 'blocked') && this.problems.length < PROBLEMS_REPORTED)
      this.problems.push(o);
    return true;
  }

  /**
   * A deletion activity says the provider accepted an item's deletion. Not a word from the lane (the
   * activity may outlive a terminated lane), so the silence watchdog is not reset. Kept only while the
   * item is open (sent, no outcome).
   */
  acceptedDeletion(note: AcceptedDeletionNote): void {
    const item = this.expected.get(note.key);
    if (!item || this.outcomes.has(note.key) || !this.open.get(item.account)?.has(note.key)) return;
    this.handles.set(note.key, note.handle);
  }

  /** The recorded handles of these items (those that have one), for a re-send. */
  handlesOf(items: ItemRef[]): AcceptedDeletionNote[] {
    return items.flatMap((item) => {
      const key = itemKey(item);
      const handle = this.handles.get(key);
      return handle ? [{ key, handle }] : [];
    });
  }

  /** Items a lane gave back unstarted: pending again (at the front, in their order), sent later. */
  returned(list: ItemRef[], now: number): void {
    for (const item of [...list].reverse()) {
      const key = itemKey(item);
      const m = this.open.get(item.account);
      this.lastHeard.set(item.account, now);
      const sent = m?.get(key);
      if (this.outcomes.has(key) || !sent) continue;
      m!.delete(key);
      this.pending.get(item.account)!.unshift(sent);
    }
  }

  /** Every item not yet sent ends `skipped` with this reason; `why` is the run's, for decidedBy. */
  skipPending(reason: string, at: string, why: string): void {
    for (const list of this.pending.values())
      for (const item of list.splice(0))
        this.accept(withDecider({ ...item, outcome: 'skipped', reason, at }, 'run', why, at));
  }

  /**
   * These items, if not yet sent, end `skipped` with this reason (an approved plan that changed since
   * its approval: README, "Approving deletions"). Items already sent are not touched.
   */
  skipNotSent(keys: readonly string[], reason: string, at: string): void {
    const skip = new Set(keys);
    for (const [account, list] of this.pending) {
      const kept = list.filter((item) => !skip.has(itemKey(item)));
      if (kept.length === list.length) continue;
      for (const item of list)
        if (skip.has(itemKey(item)))
          this.accept(
            withDecider(
              { ...item, outcome: 'skipped', reason, at },
              'run',
              'plan changed since approval',
              at,
            ),
          );
      this.pending.set(account, kept);
    }
  }

  /** Accounts with items in their lane. */
  accountsWithOpenItems(): string[] {
    return [...this.open].filter(([, m]) => m.size > 0).map(([a]) => a);
  }

  /** The next chunk for each lane whose window has room: taken from pending, now open. */
  chunksToSend(): { account: string; seq: number; items: ItemRef[] }[] {
    const out: { account: string; seq: number; items: ItemRef[] }[] = [];
    for (const [account, list] of this.pending) {
      const limits = this.limitsOf(account);
      const inLane = this.open.get(account)!.size;
      if (!list.length || inLane > laneWindow(limits) - chunkSize(limits)) continue;
      out.push(this.sent(account, list.splice(0, chunkSize(limits))));
    }
    return out;
  }

  /** Records a chunk as sent (open) and numbers it. */
  sent(account: string, items: ItemRef[]): { account: string; seq: number; items: ItemRef[] } {
    const seq = (this.chunkSeq.get(account) ?? -1) + 1;
    this.chunkSeq.set(account, seq);
    const m = this.open.get(account)!;
    for (const item of items) m.set(itemKey(item), item);
    return { account, seq, items };
  }

  heardFrom(account: string, now: number): void {
    this.lastHeard.set(account, now);
  }

  /** Silence while paused was expected: the watchdog counts from the resume. */
  heardFromAll(now: number): void {
    for (const a of this.open.keys()) this.lastHeard.set(a, now);
  }

  /**
   * The watchdog: lanes silent longer than laneSilenceMs get their open items again (`due`), and the
   * earliest time another one falls due (`next`, Infinity when none).
   */
  silentLanes(now: number): { due: { account: string; items: ItemRef[] }[]; next: number } {
    const due: { account: string; items: ItemRef[] }[] = [];
    let next = Infinity;
    for (const [account, m] of this.open) {
      if (!m.size) continue;
      const at = (this.lastHeard.get(account) ?? now) + laneSilenceMs(this.limitsOf(account));
      if (at <= now) due.push({ account, items: [...m.values()] });
      else next = Math.min(next, at);
    }
    return { due, next };
  }

  report(batchWorkflowId: string): BatchReport {
    return {
      batchWorkflowId,
      total: this.items.length - this.merged,
      counts: { ...this.counts },
      perAccount: Object.fromEntries([...this.perAccount].map(([a, c]) => [a, { ...c }])),
      inFlight: [...this.open.values()].reduce((n, m) => n + m.size, 0),
      problems: [...this.problems],
      done: this.done,
      ...(this.merged ? { merged: this.merged } : {}),
      ...(this.deletedBytes.size ? { deletedBytes: deletedBytesRecord(this.deletedBytes) } : {}),
    };
  }

  /** Every item's outcome in input order, without the merged duplicates. */
  results(): ItemOutcome[] {
    return this.items.map((i) => this.outcomes.get(itemKey(i))!).filter((o) => !o.duplicate);
  }

  get countsNow(): OutcomeCounts {
    return this.counts;
  }
}
