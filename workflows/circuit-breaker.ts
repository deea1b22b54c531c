/**
 * The failure circuit breaker of one account (README, "Guarantees": guards hold on every run): when too many of the account's
 * recent deletions fail, its lane stops starting new ones for a cool-down, then lets a single probe
 * through. Queued items are never failed or skipped by the breaker: they wait.
 *
 *   closed ──(failures among the last `window` completed deletions ≥ threshold)──► open
 *   open ──(coolDown elapsed)──► half-open: exactly one item may start (the probe)
 *   half-open ──(probe not failed)──► closed, window cleared
 *   half-open ──(probe failed)──► open for another coolDown
 *
 * The threshold is max(ceil(failureRate × window), minFailures). A window not yet full counts the
 * missing samples as successes, so a lane trips early only if failures alone already reach the
 * threshold (with window 20 and rate 0.5: the 10th failure among the first 20 results trips it).
 *
 * Pure and deterministic: the caller passes `now` (workflow time in ms); no Date, timers or Node
 * built-ins here, so the lane workflow can use it and replay gives the same answers.
 */
import type { CircuitBreakerConfig, OutcomeKind } from '../contract/model';

export type { CircuitBreakerConfig };

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What a lane hands to its next execution (continue-as-new), so an open breaker stays open. */
export interface CarriedBreaker {
  /** Recent samples, oldest first: 1 = failed, 0 = any other completed outcome. */
  samples: number[];
  /** Set while open (or half-open): when the cool-down ends. */
  openUntil?: number;
  trippedAt?: number;
  reason?: string;
  trips: number;
}

/** The breaker as the lane's status query shows it. */
export interface CircuitBreakerStatus {
  state: CircuitState;
  failureRate: number;
  window: number;
  coolDownMs: number;
  /** Failures among the last `window` completed deletions, and how many completed ones that is. */
  recentFailures: number;
  recentCompleted: number;
  /** Failures that trip it. */
  threshold: number;
  /** ISO times, while open or half-open. */
  trippedAt?: string;
  openUntil?: string;
  /** Why it tripped (the last trip), e.g. "3 of the last 4 deletions failed (...); last: ...". */
  reason?: string;
  /** Times it tripped (or re-opened after a failed probe), across continue-as-new. */
  trips: number;
}

/** What `record` reports back, so the caller can log and count a trip. */
export type BreakerEvent =
  | { kind: 'tripped'; reason: string; failures: number; completed: number; openUntil: number }
  | { kind: 'reopened'; reason: string; openUntil: number }
  | { kind: 'closed' };

export function breakerThreshold(c: CircuitBreakerConfig): number {
  // The epsilon keeps 0.3 × 10 (3.0000000000000004 in floating point) at 3.
  return Math.max(1, Math.ceil(c.failureRate * c.window - 1e-9), c.minFailures ?? 0);
}

export class CircuitBreaker {
  private samples: number[];
  private openUntilMs: number | undefined;
  private trippedAtMs: number | undefined;
  private lastReason: string | undefined;
  private tripCount: number;
  /** The key of the half-open probe while it is in flight. */
  private probe: string | undefined;

  constructor(
    private config: CircuitBreakerConfig,
    carried?: CarriedBreaker,
  ) {
    this.samples = (carried?.samples ?? []).slice(-config.window);
    this.openUntilMs = carried?.openUntil;
    this.trippedAtMs = carried?.trippedAt;
    this.lastReason = carried?.reason;
    this.tripCount = carried?.trips ?? 0;
  }

  /** New limits from the worker config: the window is cut to the new size, the state is kept. */
  configure(config: CircuitBreakerConfig): void {
    this.config = config;
    this.samples = this.samples.slice(-config.window);
  }

  state(now: number): CircuitState {
    if (this.openUntilMs === undefined) return 'closed';
    return this.probe !== undefined || now >= this.openUntilMs ? 'half-open' : 'open';
  }

  /** While open: when the cool-down ends (the caller arms a wake-up for it). */
  get openUntil(): number | undefined {
    return this.openUntilMs;
  }

  /** May a new item start now? Closed: yes. Open: no. Half-open: only while no probe is in flight. */
  canStart(now: number): boolean {
    if (this.openUntilMs === undefined) return true;
    return now >= this.openUntilMs && this.probe === undefined;
  }

  /** The caller started an item (after canStart said yes); in half-open it becomes the probe. */
  started(key: string, now: number): void {
    if (this.openUntilMs !== undefined && now >= this.openUntilMs && this.probe === undefined)
      this.probe = key;
  }

  /**
   * A completed item. Only `failed` counts as a failure: `blocked` is the provider refusing on purpose
   * (in use, automated backup, service closed: a property of that backup, not a sick account), and
   * `absent` and `deleted` are healthy answers; all three count as successes in the window. `skipped`
   * never reached the provider (dry run, cancellation, guard) and is not counted at all.
   */
  record(kind: OutcomeKind, now: number, key?: string, why?: string): BreakerEvent | undefined {
    if (kind === 'skipped') return undefined;
    const failed = kind === 'failed';
    this.samples.push(failed ? 1 : 0);
    if (this.samples.length > this.config.window) this.samples.shift();

    if (this.probe !== undefined) {
      // Half-open: only the probe's own outcome decides; others (started before the trip) just count.
      if (key !== this.probe) return undefined;
      this.probe = undefined;
      if (failed) {
        this.open(now, `the probe after the cool-down failed${why ? `: ${why}` : ''}`);
        return { kind: 'reopened', reason: this.lastReason!, openUntil: this.openUntilMs! };
      }
      this.openUntilMs = undefined;
      this.samples = [];
      return { kind: 'closed' };
    }
    if (this.openUntilMs !== undefined || !failed) return undefined;

    const failures = this.failures();
    if (failures < breakerThreshold(this.config)) return undefined;
    const completed = this.samples.length;
    this.open(
      now,
      `${failures} of the last ${completed} completed deletions failed (threshold ${formatRate(this.config.failureRate)} of ${this.config.window})${why ? `; last: ${why}` : ''}`,
    );
    return { kind: 'tripped', reason: this.lastReason!, failures, completed, openUntil: this.openUntilMs! };
  }

  status(now: number): CircuitBreakerStatus {
    const c = this.config;
    return {
      state: this.state(now),
      failureRate: c.failureRate,
      window: c.window,
      coolDownMs: c.coolDownMs,
      recentFailures: this.failures(),
      recentCompleted: this.samples.length,
      threshold: breakerThreshold(c),
      ...(this.openUntilMs !== undefined
        ? {
            ...(this.trippedAtMs !== undefined
              ? { trippedAt: new Date(this.trippedAtMs).toISOString() }
              : {}),
            openUntil: new Date(this.openUntilMs).toISOString(),
          }
        : {}),
      ...(this.lastReason ? { reason: this.lastReason } : {}),
      trips: this.tripCount,
    };
  }

  /**
   * State for the next execution. Continue-as-new happens only with nothing in flight, so there is no
   * probe to carry: a half-open breaker is carried as open with a cool-down that has ended.
   */
  carry(): CarriedBreaker {
    return {
      samples: [...this.samples],
      ...(this.openUntilMs !== undefined ? { openUntil: this.openUntilMs } : {}),
      ...(this.trippedAtMs !== undefined ? { trippedAt: this.trippedAtMs } : {}),
      ...(this.lastReason ? { reason: this.lastReason } : {}),
      trips: this.tripCount,
    };
  }

  private failures(): number {
    return this.samples.reduce((n, s) => n + s, 0);
  }

  private open(now: number, reason: string): void {
    this.openUntilMs = now + this.config.coolDownMs;
    this.trippedAtMs = now;
    this.lastReason = reason;
    this.tripCount++;
  }
}

function formatRate(r: number): string {
  return `${Math.round(r * 1000) / 10}%`;
}
