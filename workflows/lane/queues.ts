/**
 * The lane's queues: one per batch that feeds it, what each batch holds in the lane, and which item
 * starts next. Pure and deterministic (the caller passes `now`); no Temporal calls, so it is
 * unit-tested without a server (test/lane-queues.test.ts).
 *
 * Fairness: round-robin over runs, so a big run never starves a small one; within a run, its oldest
 * batch first (a run's batches then finish one after another and the run activates the next while the
 * lane still has the others' items). Lanes recorded before that rule served a run's batches
 * round-robin: `next(false)`. Keys are visited in sorted order, so the choice is deterministic.
 */
import { runWorkflowIdOf } from '../../contract/ids';
import type { LaneBatchState } from '../../contract/messages';
import { itemKey, type ItemOutcome, type ItemRef } from '../model';

/** How long a batch's chunk numbers and state are remembered after it was last heard from. */
export const MEMORY_TTL_MS = 30 * 60_000;
/** Most work-free batches remembered (the oldest are forgotten first); bounds the continue-as-new input. */
export const MAX_REMEMBERED_BATCHES = 300;
/** Keys whose outcome was signalled this recently are not queued again by a re-enqueue. */
export const RECENT_TTL_MS = 60_000;
const RECENT_FLUSHES_KEPT = 4;

export interface LaneBatch {
  id: string;
  run: string;
  state: LaneBatchState;
  /** Highest chunk sequence number seen from this batch. */
  lastChunk: number;
  touchedAt: number;
  /** Queued, not started. */
  items: ItemRef[];
  /** Keys queued, in flight (own or joined), or waiting in the outbox. */
  held: Set<string>;
  inFlight: number;
  outbox: ItemOutcome[];
  oldestOutboxAt?: number;
  /** Keys of the last few bundles signalled to the batch. */
  recent: { at: number; keys: Set<string> }[];
  /** Why it was stopped, when not by its run's own cancel (its run is gone, the lane was cancelled). */
  stopReason?: string;
}

/** An item taken from its batch's queue to start. */
export interface Started {
  b: LaneBatch;
  item: ItemRef;
}

/** A queued item as carried through continue-as-new: the account is the lane's own. */
export type CarriedItem = [id: string] | [id: string, checkpointId: string];

export interface CarriedBatch {
  batchWorkflowId: string;
  state: LaneBatchState;
  lastChunk: number;
  touchedAt: number;
  items?: CarriedItem[];
  /** Keys signalled within RECENT_TTL_MS before the hand-over. */
  recent?: { at: number; keys: string[] }[];
}

export const carriedItem = (i: ItemRef): CarriedItem => (i.checkpointId ? [i.id, i.checkpointId] : [i.id]);

export class LaneQueues {
  readonly batches = new Map<string, LaneBatch>();
  private lastRun = '';
  private readonly lastBatchOfRun = new Map<string, string>();

  constructor(
    readonly account: string,
    carried: CarriedBatch[] = [],
  ) {
    for (const c of carried) {
      const b = this.batch(c.batchWorkflowId, c.touchedAt);
      b.state = c.state;
      b.lastChunk = c.lastChunk;
      for (const [id, checkpointId] of c.items ?? []) {
        const item: ItemRef = checkpointId ? { account, id, checkpointId } : { account, id };
        b.items.push(item);
        b.held.add(itemKey(item));
      }
      b.recent = (c.recent ?? []).map((r) => ({ at: r.at, keys: new Set(r.keys) }));
    }
  }

  /** The batch's queue, created on first use. */
  batch(batchWorkflowId: string, now: number): LaneBatch {
    let b = this.batches.get(batchWorkflowId);
    if (!b) {
      b = {
        id: batchWorkflowId,
        run: runWorkflowIdOf(batchWorkflowId),
        state: 'active',
        lastChunk: -1,
        touchedAt: now,
        items: [],
        held: new Set(),
        inFlight: 0,
        outbox: [],
        recent: [],
      };
      this.batches.set(batchWorkflowId, b);
    }
    return b;
  }

  /** The batch holds this key, or it was signalled to it moments ago (that signal may be in flight). */
  holds(b: LaneBatch, key: string): boolean {
    return b.held.has(key) || b.recent.some((r) => r.keys.has(key));
  }

  /** Some active batch has a queued item. */
  startable(): boolean {
    for (const b of this.batches.values()) if (b.state === 'active' && b.items.length > 0) return true;
    return false;
  }

  /** Runs with an active batch that has queued items (those a pipelined group would have to share with). */
  runsWithQueuedItems(): Set<string> {
    const runs = new Set<string>();
    for (const b of this.batches.values()) if (b.state === 'active' && b.items.length) runs.add(b.run);
    return runs;
  }

  /** Takes the next item to start (see the module comment), or undefined when none is startable. */
  next(oldestBatchFirst: boolean): Started | undefined {
    const byRun = new Map<string, string[]>();
    for (const [id, b] of this.batches) {
      if (b.state !== 'active' || !b.items.length) continue;
      const list = byRun.get(b.run);
      if (list) list.push(id);
      else byRun.set(b.run, [id]);
    }
    if (!byRun.size) return undefined;
    const run = after([...byRun.keys()].sort(), this.lastRun);
    this.lastRun = run;
    const ids = byRun.get(run)!.sort();
    const id = oldestBatchFirst ? ids[0]! : after(ids, this.lastBatchOfRun.get(run));
    this.lastBatchOfRun.set(run, id);
    const b = this.batches.get(id)!;
    return { b, item: b.items.shift()! };
  }

  /** Something is queued, in flight or waiting to be signalled. */
  hasWork(): boolean {
    for (const b of this.batches.values()) if (b.items.length || b.outbox.length || b.inFlight) return true;
    return false;
  }

  outboxPending(): boolean {
    for (const b of this.batches.values()) if (b.outbox.length) return true;
    return false;
  }

  /** Forgets work-free batches after MEMORY_TTL_MS (the oldest first beyond MAX_REMEMBERED_BATCHES). */
  prune(now: number): void {
    const idle: LaneBatch[] = [];
    for (const [id, b] of this.batches) {
      b.recent = b.recent.filter((r) => r.at > now - RECENT_TTL_MS);
      if (b.items.length || b.inFlight || b.outbox.length) continue;
      if (b.touchedAt <= now - MEMORY_TTL_MS) this.batches.delete(id);
      else idle.push(b);
    }
    if (idle.length > MAX_REMEMBERED_BATCHES) {
      idle.sort((x, y) => x.touchedAt - y.touchedAt);
      for (const b of idle.slice(0, idle.length - MAX_REMEMBERED_BATCHES)) this.batches.delete(b.id);
    }
    const runs = new Set([...this.batches.values()].map((b) => b.run));
    for (const r of [...this.lastBatchOfRun.keys()]) if (!runs.has(r)) this.lastBatchOfRun.delete(r);
  }

  /** Takes the batch's outbox for signalling: its keys are no longer held, but remembered as recent. */
  takeOutbox(b: LaneBatch, now: number): ItemOutcome[] {
    const outcomes = b.outbox.splice(0);
    const keys = new Set(outcomes.map((o) => itemKey(o)));
    for (const k of keys) b.held.delete(k);
    b.recent.push({ at: now, keys });
    if (b.recent.length > RECENT_FLUSHES_KEPT) b.recent.shift();
    b.oldestOutboxAt = undefined;
    b.touchedAt = now;
    return outcomes;
  }

  carry(): CarriedBatch[] {
    return [...this.batches].map(([batchWorkflowId, b]) => ({
      batchWorkflowId,
      state: b.state,
      lastChunk: b.lastChunk,
      touchedAt: b.touchedAt,
      ...(b.items.length ? { items: b.items.map(carriedItem) } : {}),
      ...(b.recent.length ? { recent: b.recent.map((r) => ({ at: r.at, keys: [...r.keys] })) } : {}),
    }));
  }

  /**
   * Takes queued items back out until the carry shrinks by `excessBytes`: the newest items of the
   * longest queues first. They are no longer held; the caller gives them back to their batches
   * (never started, so nothing is lost or repeated). Returns them by batch, in queue order.
   */
  giveBack(excessBytes: number): Map<string, ItemRef[]> {
    const back = new Map<string, ItemRef[]>();
    const queues = [...this.batches].filter(([, b]) => b.items.length);
    while (excessBytes > 0) {
      queues.sort(([x, a], [y, b]) => b.items.length - a.items.length || (x < y ? -1 : 1));
      const [id, b] = queues[0] ?? [];
      if (!id || !b?.items.length) break;
      const item = b.items.pop()!;
      b.held.delete(itemKey(item));
      excessBytes -= JSON.stringify(carriedItem(item)).length + 1;
      back.set(id, [item, ...(back.get(id) ?? [])]);
    }
    return back;
  }
}

/** The first key after `last` in sorted order, wrapping around. */
function after(sorted: string[], last: string | undefined): string {
  return sorted.find((k) => last === undefined || k > last) ?? sorted[0]!;
}
