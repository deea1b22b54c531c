/**
 * What the simulator observed, for tests and benchmarks to assert on: delete calls per backup,
 * tokens issued, sessions per VM, and the maximum number of deletions an account had in progress at
 * once (accepted and not finished, queued ones included), computed exactly from intervals.
 */

import { DeleteRequests, type DeleteAnswer, type DeleteRequestCounts } from './delete-requests';

interface Interval {
  start: number;
  end: number;
}

export class Counters {
  readonly deleteCalls = new Map<string, number>();
  readonly acceptedDeletes = new Map<string, number>();
  readonly tokensIssued = new Map<string, number>();
  readonly sessionsPerVm = new Map<string, number>();
  readonly requests = new Map<string, number>();
  /** Every delete request per backup by answer, and the repeats after acceptance (delete-requests.ts). */
  readonly deleteRequests = new DeleteRequests();
  private readonly intervals = new Map<string, Interval[]>();

  /** One delete request for backup `key` reached the simulator and was answered `answer`. */
  deleteRequest(key: string, answer: DeleteAnswer): void {
    this.deleteRequests.record(key, answer);
  }

  bump(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }

  /** A deletion accepted now for `account`, finishing at `end` (ms epoch). */
  deletionInProgress(account: string, start: number, end: number): void {
    const list = this.intervals.get(account) ?? [];
    list.push({ start, end });
    this.intervals.set(account, list);
  }

  /** When each of the account's deletions was accepted (ms epoch, ascending): its request rate. */
  starts(account: string): number[] {
    return (this.intervals.get(account) ?? []).map((i) => i.start).sort((a, b) => a - b);
  }

  /**
   * Deletions in progress (accepted, not finished) at any instant of [from, to] (ms epoch), over the
   * accounts whose key (`${provider}:${scope}`) starts with `prefix`: the deletions in flight during a
   * crash, which bound the repeats a crash may cause (README "Guarantees", "One deletion per backup").
   */
  inProgressDuring(from: number, to: number, prefix = ''): number {
    let n = 0;
    for (const [account, list] of this.intervals) {
      if (!account.startsWith(prefix)) continue;
      for (const i of list) if (i.start <= to && i.end > from) n++;
    }
    return n;
  }

  /** Maximum overlap of [start, end) intervals: the most deletions in progress at any instant. */
  maxConcurrent(account: string): number {
    const events: Array<[number, number]> = [];
    for (const i of this.intervals.get(account) ?? []) events.push([i.start, 1], [i.end, -1]);
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
    let cur = 0;
    let max = 0;
    for (const [, d] of events) max = Math.max(max, (cur += d));
    return max;
  }

  snapshot(): CountersSnapshot {
    return {
      deleteCalls: Object.fromEntries(this.deleteCalls),
      acceptedDeletes: Object.fromEntries(this.acceptedDeletes),
      tokensIssued: Object.fromEntries(this.tokensIssued),
      sessionsPerVm: Object.fromEntries(this.sessionsPerVm),
      requests: Object.fromEntries(this.requests),
      deleteRequests: this.deleteRequests.snapshot(),
      maxConcurrentDeletions: Object.fromEntries(
        [...this.intervals.keys()].map((a) => [a, this.maxConcurrent(a)]),
      ),
    };
  }

  reset(): void {
    for (const m of [
      this.deleteCalls,
      this.acceptedDeletes,
      this.tokensIssued,
      this.sessionsPerVm,
      this.requests,
    ])
      m.clear();
    this.intervals.clear();
    this.deleteRequests.reset();
  }
}

export interface CountersSnapshot {
  /** `${provider}:${scope}:${backupId}` → delete calls that reached the provider logic (injected faults answer earlier; see `requests`). */
  deleteCalls: Record<string, number>;
  /** Same keys → deletions accepted. */
  acceptedDeletes: Record<string, number>;
  tokensIssued: Record<string, number>;
  sessionsPerVm: Record<string, number>;
  /** `${provider} ${method}` → requests received. */
  requests: Record<string, number>;
  /**
   * Same keys → every delete request by answer (accepted, busy, notFound, refused, faults) and the
   * requests after the first acceptance (`afterAcceptance`: repeats).
   */
  deleteRequests: Record<string, DeleteRequestCounts>;
  /** `${provider}:${scope}` → most deletions in progress at once. */
  maxConcurrentDeletions: Record<string, number>;
}
