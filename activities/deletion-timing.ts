/**
 * When to poll a deletion. A deletion is observed by polling; polling every `pollInterval` from the
 * moment the delete was accepted finds it done on average half an interval after it finished.
 * Deletions of one account usually take about the same time, so the first poll goes out when the
 * account's deletions have recently been finishing (as this worker saw them), and the ones after it
 * every pollInterval as before. Only a timing hint, kept in this process: a restarted worker starts
 * from pollInterval again, and no outcome depends on it.
 */

/** A learned first poll never waits longer than this (or pollInterval, when that is longer). */
const MAX_FIRST_POLL_MS = 10_000;
/**
 * The estimate walks towards the time deletions take: 1% earlier after a first poll that found the
 * deletion done, 3% later after one that came too early, at most once per estimated deletion time (the
 * deletions a lane starts together finish together and would otherwise all move it at once). It
 * settles where about one first poll in four is early, and such a poll costs only a short catch-up.
 * The first estimate is the middle of the first deletion's last "pending" and its "done" poll.
 */
const EARLIER_AFTER_HIT = 0.99;
const LATER_AFTER_MISS = 1.03;
/**
 * After an early first poll, catch-up polls this fraction of the estimate apart (at least 5 ms), for
 * at most one pollInterval: an early poll then costs a few milliseconds instead of an interval.
 */
const CATCH_UP_FRACTION = 0.03;

/** Account → the learned delay (ms after "accepted") of the first poll, and when it last moved. */
const learned = new Map<string, { ms: number; movedAt: number }>();

/**
 * The polls of one deletion. With a learned time for the account: the first poll at it, then, if the
 * deletion is still pending, catch-up polls soon after (it is about to finish), then every
 * pollInterval. Without one (the account's first deletions, or a retried attempt that does not know
 * when its delete was accepted): every pollInterval, jittered.
 */
export class PollSchedule {
  private polls = 0;
  private catchUpMs = 0;
  private lastPendingMs = 0;
  private readonly firstMs: number | undefined;
  private readonly catchUpStepMs: number;
  /** Whether the first poll tests the estimate (it does not when the deletion is already older). */
  private readonly tests: boolean;

  /**
   * `acceptedAgoMs`: how long ago the delete was accepted (0 right after it; a deletion handed over
   * from the previous group is older), or undefined when that is not known.
   */
  constructor(
    private readonly account: string,
    private readonly pollIntervalMs: number,
    acceptedAgoMs: number | undefined,
  ) {
    const est = learned.get(account);
    this.tests = acceptedAgoMs !== undefined && acceptedAgoMs < (est ? est.ms : pollIntervalMs);
    this.firstMs =
      acceptedAgoMs !== undefined && est
        ? Math.max(
            1,
            Math.min(Math.round(est.ms), Math.max(pollIntervalMs, MAX_FIRST_POLL_MS)) - acceptedAgoMs,
          )
        : undefined;
    this.catchUpStepMs = Math.max(5, Math.round((est?.ms ?? 0) * CATCH_UP_FRACTION));
  }

  /** Milliseconds to wait before the next poll. */
  next(): number {
    const n = this.polls++;
    if (this.firstMs === undefined) return jitter(this.pollIntervalMs);
    if (n === 0) return this.firstMs;
    const step = this.catchUpStepMs;
    if (this.catchUpMs + step > this.pollIntervalMs) return jitter(this.pollIntervalMs);
    this.catchUpMs += step;
    return step;
  }

  /** What the poll just made saw, `elapsedMs` after the delete was accepted. */
  observed(elapsedMs: number, done: boolean): void {
    if (!this.tests) return;
    const est = learned.get(this.account);
    const now = Date.now();
    if (this.firstMs !== undefined && this.polls === 1 && est) {
      if (now - est.movedAt >= est.ms)
        learned.set(this.account, {
          ms: est.ms * (done ? EARLIER_AFTER_HIT : LATER_AFTER_MISS),
          movedAt: now,
        });
    } else if (!est && done)
      // First deletion seen: it finished somewhere between the last "pending" and this poll.
      learned.set(this.account, { ms: Math.max(1, (this.lastPendingMs + elapsedMs) / 2), movedAt: now });
    if (!done) this.lastPendingMs = elapsedMs;
  }
}

/** ±20% so many deletions started together do not poll in lockstep. */
export function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.8 + Math.random() * 0.4)));
}
