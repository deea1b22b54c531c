/**
 * The lane's ledger of deletions across batches and runs: one deletion per backup, anywhere (README,
 * "Guarantees": one deletion per backup). The lane owns its account, so it is the one place that sees
 * every request for a backup, whichever run, batch, page or re-send it comes from.
 *
 *  - While a deletion of a backup runs, another batch's request for the same backup JOINS it: that batch
 *    waits for the running deletion's outcome instead of sending a second request (and takes no slot).
 *  - After a deletion confirmed a backup gone (`deleted` or `absent`), a later request for it within
 *    FINISHED_TTL_MS is ANSWERED from the ledger (another run: `absent`, "already deleted by run X"),
 *    never sent to the provider again.
 *  - Within one batch the queues' own `held` keys already ignore a repeat (see queues.ts).
 *
 * A joined outcome of the SAME run is marked `duplicate` (the run merges it: one outcome per item).
 * Pure and deterministic; carried across continue-as-new (only the finished part: nothing runs then).
 */
import type { ItemOutcome, ItemRef } from '../model';
import { itemKey } from '../model';

/** How long a confirmed deletion is remembered: longer than any batch's re-send after silence (<= 10 min). */
export const FINISHED_TTL_MS = 30 * 60_000;
/** Most confirmed deletions remembered (oldest forgotten first): bounds the continue-as-new input. */
export const MAX_FINISHED = 1_500;

type Outcome = Omit<ItemOutcome, 'at'>;

interface Running {
  /** The batch whose deletion runs. */
  batch: string;
  run: string;
  /** Batches waiting for this deletion's outcome, with their runs. */
  joiners: { batch: string; run: string }[];
}

interface Finished {
  /** The run whose deletion it was. */
  run: string;
  at: number;
  outcome: 'deleted' | 'absent';
  /** Every run that got this outcome (the owner's and those that joined it). */
  runs: string[];
}

/** A finished deletion as carried: [key, run, at, outcome, other runs that got its outcome?]. */
export type CarriedFinished =
  | [key: string, run: string, at: number, outcome: 'deleted' | 'absent']
  | [key: string, run: string, at: number, outcome: 'deleted' | 'absent', joined: string[]];

/** What to do with an item a batch is about to start. */
export type BeginDecision =
  | { kind: 'start' }
  /** Another batch's deletion of the same backup runs: wait for its outcome. */
  | { kind: 'join'; run: string }
  /** Confirmed gone by an earlier deletion: this is the batch's outcome. */
  | { kind: 'answer'; outcome: Outcome };

export class LaneLedger {
  private readonly running = new Map<string, Running>();
  private readonly finished = new Map<string, Finished>();

  constructor(carried: CarriedFinished[] = []) {
    for (const [key, run, at, outcome, joined] of carried)
      this.finished.set(key, { run, at, outcome, runs: [run, ...(joined ?? [])] });
  }

  /**
   * An item `batch` (of `run`) wants queued: an answer from the ledger when it is known gone. The run
   * is remembered as one that got this answer, so the same backup asked again by that run (a later
   * page, another batch) is marked a duplicate the run merges, never a second outcome.
   */
  answerFor(item: ItemRef, run: string, now: number): Outcome | undefined {
    const f = this.finished.get(itemKey(item));
    if (!f || f.at <= now - FINISHED_TTL_MS) return undefined;
    const answer = goneBefore(item, f, run);
    if (!f.runs.includes(run)) f.runs.push(run);
    return answer;
  }

  /** Decides for an item taken from `batch`'s queue to start. */
  begin(item: ItemRef, batch: string, run: string, now: number): BeginDecision {
    const key = itemKey(item);
    const r = this.running.get(key);
    if (r && r.batch !== batch) {
      r.joiners.push({ batch, run });
      return { kind: 'join', run: r.run };
    }
    if (r) return { kind: 'start' }; // its own item again (a group gave it back unstarted)
    const answer = this.answerFor(item, run, now);
    if (answer) return { kind: 'answer', outcome: answer };
    this.running.set(key, { batch, run, joiners: [] });
    return { kind: 'start' };
  }

  /**
   * The deletion `batch` started ended with `outcome`. Returns what each joined batch gets: the same
   * outcome (marked `duplicate` for the same run, naming the run it joined otherwise); after a
   * `skipped` deletion (its own run stopped) the joiners get nothing and `requeue` lists them, since
   * their own runs still want the backup deleted.
   */
  finish(
    outcome: Outcome,
    now: number,
  ): { joined: { batch: string; outcome: Outcome }[]; requeue: { batch: string }[] } {
    const key = itemKey(outcome);
    const r = this.running.get(key);
    this.running.delete(key);
    const runs = r ? [...new Set([r.run, ...r.joiners.map((j) => j.run)])] : [];
    if (outcome.outcome === 'deleted' || outcome.outcome === 'absent')
      this.finished.set(key, { run: r?.run ?? '', at: now, outcome: outcome.outcome, runs });
    if (!r?.joiners.length) return { joined: [], requeue: [] };
    if (outcome.outcome === 'skipped') return { joined: [], requeue: r.joiners };
    // A run that already has this backup (the owner's, or an earlier joiner's) gets it as a duplicate.
    const seen = new Set([r.run]);
    const joined = r.joiners.map((j) => {
      const duplicate = seen.has(j.run);
      seen.add(j.run);
      return { batch: j.batch, outcome: joinedOutcome(outcome, r.run, duplicate) };
    });
    return { joined, requeue: [] };
  }

  /**
   * An item begun but given back unstarted (a pipelined group's window closed first): it no longer
   * runs, so the batches that joined it are returned to be queued again (they start or join anew).
   */
  abandon(item: ItemRef): { batch: string }[] {
    const key = itemKey(item);
    const r = this.running.get(key);
    this.running.delete(key);
    return r?.joiners ?? [];
  }

  /** Deletions running (started by this execution, not yet finished). */
  get runningCount(): number {
    return this.running.size;
  }

  /** Drops what is older than FINISHED_TTL_MS, then the oldest beyond MAX_FINISHED. */
  prune(now: number): void {
    for (const [key, f] of this.finished) if (f.at <= now - FINISHED_TTL_MS) this.finished.delete(key);
    const excess = this.finished.size - MAX_FINISHED;
    if (excess > 0) {
      const oldest = [...this.finished].sort((a, b) => a[1].at - b[1].at).slice(0, excess);
      for (const [key] of oldest) this.finished.delete(key);
    }
  }

  carry(): CarriedFinished[] {
    return [...this.finished].map(([key, f]): CarriedFinished => {
      const joined = f.runs.filter((r) => r !== f.run);
      return joined.length ? [key, f.run, f.at, f.outcome, joined] : [key, f.run, f.at, f.outcome];
    });
  }
}

/** The outcome of a request for a backup an earlier deletion (of `f.run`) confirmed gone. */
function goneBefore(item: ItemRef, f: Finished, run: string): Outcome {
  const base = {
    account: item.account,
    id: item.id,
    ...(item.checkpointId ? { checkpointId: item.checkpointId } : {}),
  };
  if (f.runs.includes(run))
    return {
      ...base,
      outcome: f.outcome,
      reason: 'the same backup appears twice in this run',
      duplicate: true,
    };
  return {
    ...base,
    outcome: 'absent',
    reason: `already ${f.outcome === 'deleted' ? 'deleted' : 'gone'} when run ${f.run} asked for it at ${new Date(f.at).toISOString()}; not requested again`,
  };
}

function joinedOutcome(o: Outcome, ownerRun: string, duplicate: boolean): Outcome {
  if (duplicate)
    return { ...o, duplicate: true, reason: `the same backup appears twice in this run: ${o.reason}` };
  return { ...o, reason: `joined run ${ownerRun}'s deletion of the same backup: ${o.reason}` };
}
