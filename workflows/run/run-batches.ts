/**
 * The run's bookkeeping of its batches: per batch only its size, control state and, while it works,
 * its latest cumulative report; finished batches are folded into one running total. So what the run
 * carries through continue-as-new stays small whatever its size (about 50 bytes per batch, i.e. per
 * 500 items). Also the tally of deletions per account that the count guards judge. Pure and
 * deterministic; unit-tested in test/run-batches.test.ts.
 */
import {
  busyAccounts,
  gainOf,
  nextBatchForIdleAccounts,
  nextBatchToActivate,
  startsAtOnce,
} from '../batch-planning';
import { own } from '../keyed';
import type { AccountProgress, BatchControl, BatchReport, DeletedBytes } from '../../contract/messages';
import { deletedBytesRecord, mergeDeletedBytes } from '../deleted-bytes';
import {
  addCounts,
  emptyCounts,
  totalOf,
  type ItemOutcome,
  type ItemRef,
  type OutcomeCounts,
} from '../../contract/model';

const PROBLEMS_IN_SUMMARY = 20;

/** One batch as the run tracks it; its workflow ID is batchWorkflowId(run, index). */
export interface BatchEntry {
  size: number;
  control: BatchControl;
  /** Its final report has arrived and was folded into `finished`. */
  done?: boolean;
  /** The latest cumulative report, kept only while the batch works. */
  report?: BatchReport;
  /** Indexes into the run's accounts of the accounts its items cover (see batch-planning.ts); dropped when done. */
  accounts?: number[];
}

/** Outcome totals of the batches that are done. */
export interface Finished {
  counts: OutcomeCounts;
  perAccount: Record<string, OutcomeCounts>;
  /** The first PROBLEMS_IN_SUMMARY failed/blocked items. */
  problems: ItemOutcome[];
  /** Items merged into their first occurrence (the same backup twice in the run). */
  merged?: number;
  /** Per account: bytes of the deleted items (issue 19); absent until one is counted. */
  deletedBytes?: Record<string, DeletedBytes>;
}

/** Whether an item asks for a deletion (a dry policy run also lists what it keeps). */
export function isDeletion(item: Pick<ItemRef, 'plan'>): boolean {
  return !item.plan || item.plan.startsWith('delete');
}

export class RunBatches {
  constructor(
    readonly entries: BatchEntry[] = [],
    readonly finished: Finished = { counts: emptyCounts(), perAccount: {}, problems: [] },
    /** Deletions requested per account so far (what the count guards judge). */
    readonly tally: Record<string, number> = {},
  ) {}

  /** Counts a page's deletions per account (before its batches are added). */
  countDeletions(items: ItemRef[]): void {
    for (const item of items)
      if (isDeletion(item)) this.tally[item.account] = (own(this.tally, item.account) ?? 0) + 1;
  }

  tallyMap(): Map<string, number> {
    return new Map(Object.entries(this.tally));
  }

  add(entry: BatchEntry): number {
    this.entries.push(entry);
    return this.entries.length - 1;
  }

  activeCount(): number {
    return this.entries.filter((b) => b.control === 'active' && !b.done).length;
  }

  allDone(): boolean {
    return this.entries.every((b) => b.done);
  }

  /** Items of the run, without those merged into a first occurrence. */
  totalItems(): number {
    let merged = this.finished.merged ?? 0;
    for (const b of this.entries) merged += b.report?.merged ?? 0;
    return this.entries.reduce((n, b) => n + b.size, 0) - merged;
  }

  /** While items still arrive, a new batch starts at once only if it makes idle accounts busy. */
  bringsIdleAccounts(covered: number[] | undefined): boolean {
    return gainOf(covered, busyAccounts(this.entries)) > 0;
  }

  /**
   * The next waiting batch to activate (batch-planning.ts), or -1. `byIdleAccounts` (patch
   * 'account-batches'): one that makes idle accounts busy may start beyond `maxActive`.
   */
  nextToActivate(maxActive: number, sealed: boolean, byIdleAccounts = false): number {
    if (byIdleAccounts) return nextBatchForIdleAccounts(this.entries, maxActive, sealed);
    return this.activeCount() < maxActive ? nextBatchToActivate(this.entries, !sealed) : -1;
  }

  /** Patch 'account-batches': whether a batch covering `covered` that is created now starts at once. */
  startsAtOnce(covered: number[] | undefined, maxActive: number, sealed: boolean): boolean {
    return startsAtOnce(this.entries, covered, maxActive, sealed);
  }

  /**
   * Takes a batch's cumulative report: a repeated or older one is ignored, and a done batch is folded
   * into `finished` once. Returns false when it changed nothing.
   */
  onReport(n: number, r: BatchReport): boolean {
    const b = this.entries[n];
    if (!b || b.done || totalOf(r.counts) < totalOf(b.report?.counts ?? emptyCounts())) return false;
    if (r.done) {
      const f = this.finished;
      addCounts(f.counts, r.counts);
      for (const [account, c] of Object.entries(r.perAccount)) addCounts(countsOf(f.perAccount, account), c);
      f.problems.push(...r.problems.slice(0, PROBLEMS_IN_SUMMARY - f.problems.length));
      if (r.merged) f.merged = (f.merged ?? 0) + r.merged;
      if (r.deletedBytes) {
        const m = new Map(Object.entries(f.deletedBytes ?? {}));
        mergeDeletedBytes(m, r.deletedBytes);
        f.deletedBytes = deletedBytesRecord(m);
      }
      b.done = true;
      delete b.report;
      delete b.accounts;
    } else b.report = r;
    return true;
  }

  /** Counts so far: finished batches plus the latest reports of working ones. */
  progress(providerOf: (account: string) => string): {
    counts: OutcomeCounts;
    perAccount: Record<string, AccountProgress>;
    inFlight: number;
  } {
    const counts = addCounts(emptyCounts(), this.finished.counts);
    const perAccount = new Map<string, AccountProgress>();
    const addAccount = (account: string, c: OutcomeCounts) => {
      let p = perAccount.get(account);
      if (!p) perAccount.set(account, (p = { provider: providerOf(account), counts: emptyCounts() }));
      addCounts(p.counts, c);
    };
    for (const [account, c] of Object.entries(this.finished.perAccount)) addAccount(account, c);
    const bytes = new Map<string, DeletedBytes>();
    mergeDeletedBytes(bytes, this.finished.deletedBytes);
    let inFlight = 0;
    for (const b of this.entries) {
      if (!b.report) continue;
      addCounts(counts, b.report.counts);
      inFlight += b.report.inFlight;
      for (const [account, c] of Object.entries(b.report.perAccount)) addAccount(account, c);
      mergeDeletedBytes(bytes, b.report.deletedBytes);
    }
    for (const [account, d] of bytes) {
      const p = perAccount.get(account);
      if (p) p.deletedBytes = d;
    }
    return { counts, perAccount: Object.fromEntries(perAccount), inFlight };
  }

  firstProblems(): ItemOutcome[] {
    return this.finished.problems.slice(0, PROBLEMS_IN_SUMMARY);
  }
}

/** The counts of `key` in a record, created when missing (an own property, never an inherited one). */
function countsOf(record: Record<string, OutcomeCounts>, key: string): OutcomeCounts {
  return own(record, key) ?? (record[key] = emptyCounts());
}
