/**
 * accountLane: one long-lived workflow per provider account (ID from laneWorkflowId) that owns the
 * account's concurrency window. Every run's batches feed it chunks through signal-with-start; the
 * lane serves runs round-robin (workflows/lane/queues.ts), runs the deletion activities, and sends
 * outcomes back to each batch in small bundles. Because one workflow owns the window, the limit holds
 * across all runs and all worker processes (README, "Guarantees").
 *
 * This file keeps only what touches Temporal: handlers, activities, timers, signals, continue-as-new.
 * The state lives in pure modules: the queues and fairness (lane/queues.ts), the ledger of deletions
 * across batches and runs (lane/ledger.ts), the size of pipelined groups (lane/pipeline-depth.ts), the
 * circuit breaker (circuit-breaker.ts).
 *
 * Exactly one outcome per item, and one deletion per backup, rest on four rules here:
 *  - an item is "held" from the moment it is queued until its outcome has been signalled to its batch;
 *    a held item that arrives again (a retried enqueue, or a batch's re-enqueue after a silence) is
 *    ignored, and so is one whose outcome was signalled moments ago (that signal may still be in flight);
 *  - a batch's chunk numbers are remembered for MEMORY_TTL_MS after its last chunk, beyond the moment
 *    its queue empties and across continue-as-new, so a retried enqueue activity that re-delivers an
 *    old chunk never deletes its items a second time;
 *  - an item re-sent by its batch that the lane does not hold (an earlier lane was terminated or reset)
 *    is never requested blindly: a deletion the provider accepted is observed through the handle the
 *    batch kept, holding a slot; any other is read at the provider first (activities/resent-items.ts);
 *  - continue-as-new waits until nothing is in flight and every outcome has been signalled, then hands
 *    the queued items, the chunk memory and the ledger to the next execution. What it carries is
 *    bounded (CARRY_BUDGET_BYTES): beyond it, the newest queued items go back to their batches (never
 *    started, so nothing is lost or repeated) and are sent again later.
 *
 * History cost per item: a share of one activity (items started at the same moment go to the provider
 * as one group, see activities/deletion/group.ts) plus a share of the workflow tasks; outcomes leave in
 * bundles of LANE_FLUSH_SIZE; the lane keeps at most one pending timer per due time.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  metricMeter,
  patched,
  setHandler,
} from '@temporalio/workflow';
import type { DeleteBackupInput, GroupItemResult, HandedOver } from '../activities/deletion/contract';
import { FAILURE } from '../contract/failure-types';
import { failedOutcomeFrom, isMisconfiguration } from './activity-failures';
import { withDecider } from './decided-by';
import { CircuitBreaker, type CarriedBreaker } from './circuit-breaker';
import { LANE_EVENTS_BEFORE_CONTINUE, shouldContinueAsNew } from './continue-as-new';
import { deletionActivitiesFor } from './lane/deletion-activities';
import { fairnessOf } from './lane/fairness';
import type { Priority } from '@temporalio/common';
import { LaneLedger, type CarriedFinished } from './lane/ledger';
import { MAX_PIPELINED_ITEMS, PipelineDepth } from './lane/pipeline-depth';
import { LaneQueues, type CarriedBatch, type LaneBatch, type Started } from './lane/queues';
import {
  enqueueSignal,
  laneBatchStateSignal,
  laneStatusQuery,
  outcomesSignal,
  returnItemsSignal,
  setConcurrencyUpdate,
  type EnqueueRequest,
  type LaneBatchState,
  type LaneStatus,
} from '../contract/messages';
import { groupBy } from './keyed';
import {
  itemKey,
  NEVER_REPEAT_DELETE,
  type AccountLimits,
  type ItemOutcome,
  type ItemRef,
} from '../contract/model';
import { PATCHES } from './patches';
import { rateWaitMs } from '../contract/rate-window';
import { WakeUps } from './wake-ups';
import { notificationsSent, raiseEvent } from './run/events';
import { described } from './handler-descriptions';
import {
  breakerCoolDownSummary,
  deleteGroupSummary,
  deleteOneSummary,
  flushSummary,
  idleExitSummary,
  rateWaitSummary,
} from '../contract/user-metadata';
import { CurrentDetails, renderLaneDetails } from './current-details';

export type { CarriedBatch, CarriedItem } from './lane/queues';
export { MAX_PIPELINED_ITEMS };

/** Outcomes are sent to a batch once this many are waiting... */
export const LANE_FLUSH_SIZE = 25;
/** ...or once the oldest has waited this long, or the batch has nothing left in the lane. */
export const FLUSH_AFTER_MS = 3_000;
/**
 * An idle lane ends after this long; the next enqueue starts it again. Long enough that a retried
 * enqueue activity (start-to-close 30 s, then a retry) still finds the chunk memory.
 */
export const IDLE_EXIT_MS = 5 * 60_000;
/** See workflows/continue-as-new.ts. */
export const HISTORY_EVENTS_BEFORE_CONTINUE = LANE_EVENTS_BEFORE_CONTINUE;
/**
 * Items started at the same moment go to the provider as one deleteBackups activity of at most this
 * many (one activity and one heartbeat for the group instead of one of each per item).
 */
export const MAX_GROUP = 10;
/**
 * A pipelined group (see activities/deletion/contract.ts PipelineInput) starts its later items within this
 * long of being scheduled: the bound on how late a pause, a cancellation or a lowered concurrency
 * reaches the items handed to it (and never more than a quarter of the deletion deadline).
 */
export const PIPELINE_WINDOW_MS = 2_000;
/** Most bytes (JSON) of state handed to the next execution: half the 256 KB payload limit. */
export const CARRY_BUDGET_BYTES = 128 * 1024;

type Outcome = Omit<ItemOutcome, 'at'>;

/** A deletion in progress that a pipelined group handed over; it holds its slot. */
interface Handed extends Started {
  handed: HandedOver;
}

/** Overrides of the lane's constants, for tests that need continue-as-new every few items. */
export interface LaneTuning {
  continueAfterEvents?: number;
  carryBudgetBytes?: number;
}

export interface LaneInput {
  account: string;
  limits: AccountLimits;
  /** State handed over by continue-as-new. */
  carried?: {
    batches: CarriedBatch[];
    concurrencyOverride?: number;
    breaker?: CarriedBreaker;
    /** Confirmed deletions (lane/ledger.ts); absent in lanes recorded before the ledger. */
    finished?: CarriedFinished[];
  };
  tuning?: LaneTuning;
}

export async function accountLane(input: LaneInput): Promise<void> {
  const lane = new Lane(input);
  // Cancelled from the Web UI or `temporal workflow cancel`: what the lane holds queued ends `skipped`,
  // deletions in progress finish and report, then the lane ends (the next enqueue starts a new one).
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    if (isCancellation(err)) lane.cancel();
  });
  await CancellationScope.nonCancellable(() => lane.run());
}

class Lane {
  private readonly account: string;
  /** Task-queue fairness between accounts (lane/fairness.ts). */
  private readonly fairness: Priority;
  private limits: AccountLimits;
  private concurrencyOverride?: number;
  private readonly queues: LaneQueues;
  private readonly ledger: LaneLedger;
  /** Ledger and run liveness (patch 'lane-ledger'); off for older lanes. */
  private readonly ledgerOn: boolean;
  /** Re-sent items observed or inspected (patch 'resent-items'), decided at the first re-send. */
  private resentOn?: boolean;
  private breaker?: CircuitBreaker;
  private readonly wakeUps = new WakeUps(() => (this.dirty = true));
  private readonly depth = new PipelineDepth();
  private readonly breakerTrips = metricMeter.createCounter(
    'retention_circuit_breaker_trips_total',
    '',
    'Times an account lane paused the account because too many deletions failed',
  );
  private inFlight = 0;
  private completed = 0;
  private dirty = false;
  private readonly recentStarts: number[] = [];
  private readonly sends = new Set<Promise<void>>();
  /** Set while a pipelined group runs: it owns the account's request rate until it returns. */
  private pipelineRunning = false;
  /** Set while the lane waits for its deletions to end before continue-as-new. */
  private draining = false;
  /** What the last pipelined group handed over, waiting for the next (each holds its slot). */
  private readonly handed: Handed[] = [];

  /** Set after a deletion found the account misconfigured (see misconfigured()). */
  private misconfiguration?: { until: number; reason: string };
  /** Cancelled through Temporal: nothing new starts, the lane ends once its deletions finished. */
  private cancelled = false;
  private readonly details = new CurrentDetails();

  constructor(private readonly input: LaneInput) {
    this.account = input.account;
    this.fairness = fairnessOf(input.account);
    this.limits = input.limits;
    this.concurrencyOverride = input.carried?.concurrencyOverride;
    this.queues = new LaneQueues(input.account, input.carried?.batches);
    this.ledgerOn = patched(PATCHES.laneLedger);
    this.ledger = new LaneLedger(this.ledgerOn ? input.carried?.finished : []);
    if (this.limits.circuitBreaker)
      this.breaker = new CircuitBreaker(this.limits.circuitBreaker, input.carried?.breaker);
    setHandler(enqueueSignal, (req) => this.enqueue(req), described('enqueue'));
    setHandler(
      laneBatchStateSignal,
      ({ batchWorkflowId, state }) => {
        const b = this.queues.batch(batchWorkflowId, Date.now());
        b.touchedAt = Date.now();
        this.setState(b, state);
        this.dirty = true;
      },
      described('batchState'),
    );
    setHandler(
      setConcurrencyUpdate,
      ({ concurrency: n }) => {
        this.concurrencyOverride = n;
        this.dirty = true;
        return { concurrency: this.concurrency(), max: this.limits.maxConcurrent };
      },
      { ...described('setConcurrency'), validator: (arg) => this.validateConcurrency(arg?.concurrency) },
    );
    setHandler(laneStatusQuery, () => this.status(), described('laneStatus'));
  }

  cancel(): void {
    this.cancelled = true;
    for (const b of this.queues.batches.values()) this.setState(b, 'cancelled', LANE_CANCELLED);
    this.dirty = true;
  }

  /**
   * A deletion found the account misconfigured (README, "Guarantees": a misconfiguration never reads as
   * success): every deletion would fail the same way, so the account's circuit opens: queued items
   * fail at once with the same reason, and so does every item that arrives within
   * MISCONFIGURED_COOL_DOWN_MS; after it, the next items try the provider again (a fixed config).
   */
  private misconfigured(reason: string): void {
    const now = Date.now();
    if (!this.misconfiguration || this.misconfiguration.until <= now) {
      log.warn(
        `account ${this.account} is misconfigured: failing its queued deletions without sending them`,
        {
          account: this.account,
          reason,
        },
      );
      this.raiseCircuitOpen(`misconfigured: ${reason}`);
    }
    this.misconfiguration = { until: now + MISCONFIGURED_COOL_DOWN_MS, reason };
    this.failQueuedAsMisconfigured();
  }

  /**
   * circuit-open (workflows/run/events.ts): scheduled, never awaited here, so the lane goes on failing
   * or holding its items at once; the lane's end and continue-as-new wait for it with its other sends.
   */
  private raiseCircuitOpen(reason: string): void {
    const runs = [...new Set([...this.queues.batches.values()].map((b) => b.run))];
    void raiseEvent('circuit-open', { account: this.account, reason, runs });
    const sent = notificationsSent().finally(() => this.sends.delete(sent));
    this.sends.add(sent);
  }

  private failQueuedAsMisconfigured(): void {
    const m = this.misconfiguration;
    if (!m || m.until <= Date.now()) return;
    for (const b of this.queues.batches.values())
      for (const item of b.items.splice(0))
        this.record(
          b,
          {
            ...item,
            outcome: 'failed',
            reason: `${m.reason} (not sent: the account's circuit is open)`,
            code: FAILURE.AccountMisconfigured,
          },
          'circuit open: account misconfigured',
        );
  }

  /** Every batch of `run` stops here: its run no longer runs (a deletion of it found out). */
  private stopRun(run: string): void {
    for (const b of this.queues.batches.values()) if (b.run === run) this.setState(b, 'cancelled', RUN_GONE);
  }

  private concurrency(): number {
    return Math.min(this.concurrencyOverride ?? this.limits.maxConcurrent, this.limits.maxConcurrent);
  }

  private validateConcurrency(n: unknown): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > this.limits.maxConcurrent) {
      throw new Error(
        `concurrency: must be a whole number from 1 to ${this.limits.maxConcurrent} (account ${this.account}'s configured maxConcurrent), got ${JSON.stringify(n)}`,
      );
    }
  }

  private status(): LaneStatus {
    return {
      account: this.account,
      concurrency: this.concurrency(),
      maxConcurrent: this.limits.maxConcurrent,
      inFlight: this.inFlight,
      queued: Object.fromEntries(
        [...this.queues.batches].filter(([, b]) => b.items.length).map(([id, b]) => [id, b.items.length]),
      ),
      completedThisExecution: this.completed,
      ...(this.breaker ? { circuitBreaker: this.breaker.status(Date.now()) } : {}),
    };
  }

  /** The Web UI's "current details" of the lane (workflows/current-details.ts); no history cost. */
  private showDetails(): void {
    const breaker = this.breaker?.state(Date.now()) ?? 'none';
    const shape = `${this.cancelled}|${this.hasWork()}|${this.inFlight === 0}|${breaker}|${this.concurrency()}`;
    this.details.refresh(shape, () =>
      renderLaneDetails(this.status(), {
        idle: !this.hasWork(),
        cancelled: this.cancelled,
        ...(this.misconfiguration && this.misconfiguration.until > Date.now()
          ? {
              misconfigured: {
                reason: this.misconfiguration.reason,
                until: new Date(this.misconfiguration.until).toISOString(),
              },
            }
          : {}),
      }),
    );
  }

  // ---- what batches send ----

  private enqueue(req: EnqueueRequest): void {
    if (req.limits.name === this.account) {
      this.limits = req.limits;
      this.configureBreaker();
    }
    const b = this.queues.batch(req.batchWorkflowId, Date.now());
    b.touchedAt = Date.now();
    this.dirty = true;
    if (req.chunk <= b.lastChunk) return; // redelivered chunk (the enqueue activity was retried)
    b.lastChunk = req.chunk;
    if (this.cancelled) this.setState(b, 'cancelled', LANE_CANCELLED);
    else if (req.state) this.setState(b, req.state);
    let ignored = 0;
    const handles = new Map((req.accepted ?? []).map((n) => [n.key, n.handle]));
    for (const item of req.items) {
      const key = itemKey(item);
      if (this.queues.holds(b, key)) {
        ignored++;
        continue;
      }
      b.held.add(key);
      const known = this.ledgerOn ? this.ledger.answerFor(item, b.run, Date.now()) : undefined;
      // Re-sent and not held here: this lane was started after the one that had it (README,
      // "Guarantees": one deletion per backup). A deletion the provider accepted is observed at once,
      // cancelled or not (it runs whatever we do); the others are inspected before any request.
      if (!known && req.resend && this.resentItems()) {
        const handle = handles.get(key);
        if (handle) {
          this.observeAccepted(b, item, handle);
          continue;
        }
        b.inspect.add(key);
      }
      if (b.state === 'cancelled') this.record(b, ...skipped(item, b.stopReason ?? CANCELLED));
      else if (known) this.record(b, known, ledgerWhy(known));
      else b.items.push(item);
    }
    if (req.resend)
      log.info('batch re-sent its open items', {
        batchWorkflowId: req.batchWorkflowId,
        items: req.items.length,
        alreadyHeld: ignored,
      });
  }

  private resentItems(): boolean {
    return (this.resentOn ??= this.ledgerOn && patched(PATCHES.resentItems));
  }

  /**
   * A re-sent item whose deletion the provider accepted before this lane had it (its handle came back
   * through the batch): it is observed through that handle, never requested again, and it takes a slot
   * at once, beyond the window if need be, because it runs at the provider whatever the lane does: the
   * account's concurrency counts it, so nothing new starts beside it (README, "Guarantees": the
   * concurrency limit).
   */
  private observeAccepted(b: LaneBatch, item: ItemRef, handle: Record<string, string>): void {
    const d = this.ledger.begin(item, b.id, b.run, Date.now());
    if (d.kind === 'answer') return this.record(b, d.outcome, ledgerWhy(d.outcome));
    if (d.kind === 'join') {
      b.inFlight++;
      return;
    }
    this.take(b);
    this.runOne(b, item, { accepted: { handle }, resent: true });
  }

  private configureBreaker(): void {
    const c = this.limits.circuitBreaker;
    if (!c) this.breaker = undefined;
    else if (this.breaker) this.breaker.configure(c);
    else this.breaker = new CircuitBreaker(c);
  }

  private setState(b: LaneBatch, state: LaneBatchState, reason = CANCELLED): void {
    if (b.state === 'cancelled') return; // final: a late 'active' must not revive a cancelled batch
    b.state = state;
    if (state === 'cancelled') {
      if (reason !== CANCELLED) b.stopReason = reason;
      // Queued items of a cancelled run are never started; in-flight ones finish and report normally.
      for (const item of b.items.splice(0)) this.record(b, ...skipped(item, b.stopReason ?? CANCELLED));
    }
  }

  // ---- outcomes ----

  /**
   * Puts an outcome in its batch's outbox (sent by flushDue). `why` names the lane's decision in
   * `decidedBy` when no activity attempt decided it (workflows/decided-by.ts).
   */
  private record(b: LaneBatch, outcome: Outcome, why: string): void {
    const at = new Date().toISOString();
    b.outbox.push({ ...withDecider(outcome, 'lane', why, at), at });
    b.oldestOutboxAt ??= Date.now();
    this.dirty = true;
  }

  /** A deletion this lane ran ended: its batch's outcome, the breaker, and the batches that joined it. */
  private settle(b: LaneBatch, outcome: Outcome): void {
    if (this.breaker) this.breakerRecord(this.breaker, outcome);
    this.record(b, outcome, 'deletion ended without an activity result');
    this.completed++;
    if (this.ledgerOn) this.deliverJoined(outcome);
    if (outcome.code === FAILURE.RunStopped) this.stopRun(b.run);
    if (this.ledgerOn && isMisconfiguration(outcome)) this.misconfigured(outcome.reason);
  }

  private deliverJoined(outcome: Outcome): void {
    const { joined, requeue } = this.ledger.finish(outcome, Date.now());
    for (const j of joined) {
      const jb = this.queues.batches.get(j.batch);
      if (!jb) continue;
      jb.inFlight--;
      this.record(jb, j.outcome, 'joined a running deletion of the same backup');
    }
    // The deletion they joined was skipped (its run stopped): their own runs still want it.
    this.requeueJoiners(outcome, requeue);
  }

  /** Batches that joined a deletion that will not happen: each queues the item again (or skips it). */
  private requeueJoiners(item: ItemRef, joiners: { batch: string }[]): void {
    for (const j of joiners) {
      const jb = this.queues.batches.get(j.batch);
      if (!jb) continue;
      jb.inFlight--;
      const own: ItemRef = {
        account: item.account,
        id: item.id,
        ...(item.checkpointId ? { checkpointId: item.checkpointId } : {}),
      };
      if (jb.state === 'cancelled') this.record(jb, ...skipped(own, jb.stopReason ?? CANCELLED));
      else jb.items.unshift(own);
    }
  }

  private breakerRecord(cb: CircuitBreaker, outcome: Outcome): void {
    const event = cb.record(outcome.outcome, Date.now(), itemKey(outcome), outcome.reason);
    if (!event) return;
    const c = this.limits.circuitBreaker!;
    const account = this.account;
    if (event.kind === 'closed') {
      log.info('circuit breaker closed: the probe succeeded, starting deletions again', { account });
      return;
    }
    this.breakerTrips.add(1, { account, provider: this.limits.provider });
    const until = new Date(event.openUntil).toISOString();
    // Only a trip: a failed probe re-opens it every cool-down, which would repeat the same news.
    if (event.kind === 'tripped') this.raiseCircuitOpen(`${event.reason}; no new deletions until ${until}`);
    log.warn(
      event.kind === 'tripped'
        ? `circuit breaker tripped for account ${account}: ${event.failures} of the last ${event.completed} deletions failed (threshold failureRate ${c.failureRate} over window ${c.window}); no new deletions until ${until}`
        : `circuit breaker re-opened for account ${account}: the probe failed; no new deletions until ${until}`,
      {
        account,
        failureRate: c.failureRate,
        window: c.window,
        coolDownMs: c.coolDownMs,
        reason: event.reason,
        openUntil: until,
      },
    );
  }

  // ---- starting deletions ----

  /** An item's slot is taken from its start until its outcome is recorded. */
  private take(b: LaneBatch): void {
    this.inFlight++;
    b.inFlight++;
  }

  private release(b: LaneBatch): void {
    this.inFlight--;
    b.inFlight--;
  }

  private finish(b: LaneBatch, outcome: Outcome): void {
    this.release(b);
    this.settle(b, outcome);
    this.dirty = true;
  }

  /**
   * Takes the next startable item and decides with the ledger: start it, let it join a running
   * deletion of the same backup (no slot), or answer it (known gone). Undefined when nothing is left
   * that would start.
   */
  private nextToStart(now: number): Started | undefined {
    for (;;) {
      const next = this.queues.next(patched(PATCHES.oldestBatchFirst));
      if (!next || !this.ledgerOn) return next;
      const d = this.ledger.begin(next.item, next.b.id, next.b.run, now);
      if (d.kind === 'start') return next;
      if (d.kind === 'join') next.b.inFlight++;
      else this.record(next.b, d.outcome, ledgerWhy(d.outcome));
      if (!this.queues.startable()) return undefined;
    }
  }

  /** Picks what may start now: the window, the breaker and the request rate decide. */
  private pick(): Started[] {
    const picks: Started[] = [];
    while (
      !this.pipelineRunning &&
      this.inFlight + picks.length < this.concurrency() &&
      this.queues.startable()
    ) {
      const now = Date.now();
      if (this.breaker && !this.breaker.canStart(now)) {
        // Open: queued items wait (never failed or skipped); wake up when the cool-down ends. While
        // the half-open probe is in flight there is nothing to wake for: its outcome wakes the loop.
        if (this.breaker.state(now) === 'open') {
          const until = this.breaker.openUntil!;
          this.wakeUps.at(
            until,
            breakerCoolDownSummary(this.limits.circuitBreaker?.coolDownMs ?? until - now, until),
          );
        }
        break;
      }
      const wait = rateWaitMs(this.recentStarts, this.limits.requestsPerSecond, now);
      if (wait > 0) {
        this.wakeUps.at(now + wait, rateWaitSummary(wait));
        break;
      }
      const next = this.nextToStart(now);
      if (!next) break;
      this.breaker?.started(itemKey(next.item), now);
      this.recentStarts.push(now);
      if (next.b.inspect.delete(itemKey(next.item))) {
        // A re-sent item: alone, the provider asked first (activities/resent-items.ts).
        this.take(next.b);
        this.runOne(next.b, next.item, { resent: true });
        continue;
      }
      picks.push(next);
    }
    return picks;
  }

  private activities() {
    return deletionActivitiesFor(this.limits);
  }

  /** Input fields the ledger adds to every deletion (the run whose liveness is checked before a request). */
  private runOf(b: LaneBatch): Pick<DeleteBackupInput, 'runWorkflowId'> {
    return this.ledgerOn ? { runWorkflowId: b.run } : {};
  }

  /** One item as its own activity; `from` is where a group left it (accepted, or its request failed). */
  private runOne(
    b: LaneBatch,
    item: ItemRef,
    from: Pick<DeleteBackupInput, 'accepted' | 'groupError' | 'resent'> = {},
  ): void {
    // Deletes that must never repeat: the batch keeps the accepted handle across a lane terminate.
    const report =
      this.ledgerOn && NEVER_REPEAT_DELETE.has(this.limits.provider) ? { reportAcceptedTo: b.id } : {};
    this.activities()
      .deleteBackup.executeWithOptions(
        { summary: deleteOneSummary(item, from.accepted !== undefined), priority: this.fairness },
        [{ item, pollIntervalMs: this.limits.pollIntervalMs, ...from, ...this.runOf(b), ...report }],
      )
      .then(
        (outcome) => this.finish(b, outcome),
        (err: unknown) => this.finish(b, failedOutcomeFrom(item, err)),
      )
      .catch(bookkeepingFailed);
  }

  /** What a group left of an item holding a slot: its outcome, or the item continued alone. */
  private afterGroup(b: LaneBatch, item: ItemRef, r: GroupItemResult | undefined): void {
    if (!r || 'notStarted' in r)
      this.finish(b, failedOutcomeFrom(item, 'the deletion group returned no result for this item'));
    else if ('outcome' in r) this.finish(b, r.outcome);
    else if ('handedOver' in r) this.runOne(b, item, { accepted: r.handedOver.accepted });
    else this.runOne(b, item, r.continueWith ? { accepted: r.continueWith } : { groupError: r.requestError });
  }

  /**
   * Starts the items picked in one activation: alone, or in groups of up to MAX_GROUP. A group's items
   * that are still pending when it ends (or met an error) continue as their own activities and keep
   * their slots; a group that gives up entirely (deadline, worker-side failure) fails its items.
   */
  private start(picks: Started[]): void {
    const resumed = this.handed.splice(0);
    if (
      resumed.length
        ? this.canGroup([...resumed, ...picks])
        : this.canPipeline(picks) && patched(PATCHES.groupedDeletions) && patched(PATCHES.pipelinedGroups)
    ) {
      this.startPipelined(picks, resumed);
      return;
    }
    // Handed over while the lane can no longer pipeline (a second run, the breaker): each goes on alone.
    for (const h of resumed) this.runOne(h.b, h.item, { accepted: h.handed.accepted });
    if (!picks.length) return;
    for (const p of picks) this.take(p.b);
    if (
      picks.length === 1 ||
      NEVER_REPEAT_DELETE.has(this.limits.provider) ||
      !patched(PATCHES.groupedDeletions)
    ) {
      for (const p of picks) this.runOne(p.b, p.item);
      return;
    }
    // With the ledger, a group holds one run's items: the run's liveness is checked before its requests.
    for (const sameRun of this.ledgerOn ? groupBy(picks, (p) => p.b.run).values() : [picks])
      for (let i = 0; i < sameRun.length; i += MAX_GROUP) this.startGroup(sameRun.slice(i, i + MAX_GROUP));
  }

  /** A plain group: every item requested at once, then observed together. */
  private startGroup(group: Started[]): void {
    this.activities()
      .deleteBackups.executeWithOptions(
        { summary: deleteGroupSummary(this.account, group.length), priority: this.fairness },
        [
          {
            items: group.map((p) => p.item),
            pollIntervalMs: this.limits.pollIntervalMs,
            ...this.runOf(group[0]!.b),
          },
        ],
      )
      .then(
        (results) => group.forEach(({ b, item }, k) => this.afterGroup(b, item, results[k])),
        (err: unknown) => group.forEach(({ b, item }) => this.finish(b, failedOutcomeFrom(item, err))),
      )
      .catch(bookkeepingFailed);
  }

  /**
   * Only while a single run feeds the lane: a group's outcomes are recorded when it returns, and the
   * items it holds are not shared round-robin with a run that arrives meanwhile, so with several runs
   * the lane keeps to plain groups and serves them item by item.
   */
  private canPipeline(picks: Started[]): boolean {
    return this.queues.startable() && this.canGroup(picks);
  }

  /** Groups may pipeline: the provider's deletes may repeat, the breaker is closed, one run feeds the lane. */
  private canGroup(picks: Started[]): boolean {
    if (NEVER_REPEAT_DELETE.has(this.limits.provider)) return false;
    if (this.breaker && this.breaker.state(Date.now()) !== 'closed') return false;
    const runs = this.queues.runsWithQueuedItems();
    for (const p of picks) runs.add(p.b.run);
    return runs.size === 1;
  }

  // 80 to 100% of the bound, at random (deterministic in a workflow): lanes started together would
  // otherwise end their groups together, and their workflow tasks would queue behind each other.
  private pipelineWindowMs(): number {
    return Math.min(PIPELINE_WINDOW_MS * (0.8 + 0.2 * Math.random()), this.limits.deletionDeadlineMs / 4);
  }

  /** `resumed`: deletions the previous group handed over (they hold their slots already). */
  private startPipelined(picks: Started[], resumed: Handed[]): void {
    // Decided per group, so a lane recorded before the hand-over replays with the group sizes it used:
    // a group's result is matched to its items by position.
    const handOverRules = patched(PATCHES.pipelineHandOver);
    const slots = resumed.length + picks.length;
    const extras: Started[] = [];
    const want = this.depth.extrasWanted(slots, handOverRules, this.draining);
    while (extras.length < want && this.queues.startable()) {
      const next = this.nextToStart(Date.now());
      if (!next) break;
      if (next.b.inspect.has(itemKey(next.item))) {
        // A re-sent item starts alone (pick()): back to the front of its queue, not begun.
        this.ledger.abandon(next.item);
        next.b.items.unshift(next.item);
        break;
      }
      extras.push(next);
    }
    for (const p of picks) this.take(p.b);
    for (const x of extras) x.b.inFlight++; // held by the group, not yet in the account's window
    const all = [...resumed, ...picks, ...extras];
    this.pipelineRunning = true;
    const done = () => {
      this.pipelineRunning = false;
      for (const p of [...resumed, ...picks]) this.release(p.b);
      for (const x of extras) x.b.inFlight--;
      this.dirty = true;
    };
    // Not while the lane drains for continue-as-new: then the group sees its deletions to the end.
    const handOver = !this.draining && handOverRules;
    this.activities()
      .deleteBackups.executeWithOptions(
        { summary: deleteGroupSummary(this.account, all.length, true), priority: this.fairness },
        [
          {
            items: all.map((p) => p.item),
            pollIntervalMs: this.limits.pollIntervalMs,
            pipeline: {
              slots,
              startWithinMs: this.pipelineWindowMs(),
              requestsPerSecond: this.limits.requestsPerSecond,
              // Without the picks' own entries: the group records when their requests actually go out.
              recentStarts: this.recentStarts.slice(0, this.recentStarts.length - picks.length),
              ...(handOver ? { handOver } : {}),
              ...(resumed.length ? { resumed: resumed.map((h) => h.handed) } : {}),
            },
            ...this.runOf(all[0]!.b),
          },
        ],
      )
      .then(
        (results) => {
          done();
          this.afterPipelined(all, resumed.length, slots, results, extras.length, handOverRules);
        },
        (err: unknown) => {
          done();
          for (const { b, item } of all) this.settle(b, failedOutcomeFrom(item, err));
        },
      )
      .catch(bookkeepingFailed);
  }

  private afterPipelined(
    all: Started[],
    resumedCount: number,
    slots: number,
    results: GroupItemResult[],
    extras: number,
    handOverRules: boolean,
  ): void {
    const back = new Map<LaneBatch, ItemRef[]>();
    let started = 0;
    all.forEach(({ b, item }, k) => {
      const r = results[k];
      // A resumed deletion's request was counted when the group that made it returned.
      if (r?.requestedAt !== undefined && k >= resumedCount) {
        if (k >= slots) started++;
        this.recentStarts.push(r.requestedAt);
      }
      if (r && 'notStarted' in r) back.set(b, [...(back.get(b) ?? []), item]);
      else if (r && 'handedOver' in r) {
        this.take(b);
        this.handed.push({ b, item, handed: r.handedOver });
      } else {
        this.take(b);
        this.afterGroup(b, item, r);
      }
    });
    this.recentStarts.sort((x, y) => x - y);
    // Never started: back to the front of their queues, still held (or skipped if the run was cancelled).
    for (const [b, items] of back) {
      if (this.ledgerOn) for (const item of items) this.requeueJoiners(item, this.ledger.abandon(item));
      if (b.state !== 'cancelled') b.items.unshift(...items);
      else for (const item of items) this.record(b, ...skipped(item, b.stopReason ?? CANCELLED));
    }
    this.depth.learn(started, extras, slots, handOverRules);
  }

  // ---- signalling outcomes ----

  private flush(b: LaneBatch): void {
    const outcomes = this.queues.takeOutbox(b, Date.now());
    const batchWorkflowId = b.id;
    const p = getExternalWorkflowHandle(batchWorkflowId)
      .signal(outcomesSignal, { outcomes })
      .catch((err: unknown) => {
        // The batch is gone (terminated by an operator): nobody is left to tell.
        log.warn('could not deliver outcomes to batch', {
          batchWorkflowId,
          count: outcomes.length,
          error: String(err),
        });
      })
      .finally(() => this.sends.delete(p));
    this.sends.add(p);
  }

  /** Sends due outbox bundles; arms a wake-up for the next one that is not due yet. */
  private flushDue(force: boolean): void {
    const now = Date.now();
    for (const b of this.queues.batches.values()) {
      if (!b.outbox.length) continue;
      const nothingLeft = b.items.length === 0 && b.inFlight === 0;
      const due = (b.oldestOutboxAt ?? now) + FLUSH_AFTER_MS;
      if (force || nothingLeft || b.outbox.length >= LANE_FLUSH_SIZE || due <= now) this.flush(b);
      else this.wakeUps.at(due, flushSummary(due - now));
    }
  }

  // ---- continue-as-new ----

  /**
   * Keeps the continue-as-new input within the carry budget: gives the newest queued items of the
   * longest queues back to their batches. Returns false if it gave anything back (then the caller loops
   * once more, so signals that arrived meanwhile are handled before the hand-over); true when the carry
   * fits or nothing is left to give back (chunk memory alone is bounded by MAX_REMEMBERED_BATCHES).
   * Never false without having awaited a signal: a loop that does not yield would never end the activation.
   */
  private async fitCarry(carried: unknown): Promise<boolean> {
    const excess =
      JSON.stringify(carried).length - (this.input.tuning?.carryBudgetBytes ?? CARRY_BUDGET_BYTES);
    if (excess <= 0) return true;
    const back = this.queues.giveBack(excess);
    if (!back.size) return true;
    log.info('carry over budget: giving queued items back to their batches', {
      batches: back.size,
      items: [...back.values()].reduce((n, l) => n + l.length, 0),
    });
    await Promise.all(
      [...back].map(([batchWorkflowId, items]) =>
        getExternalWorkflowHandle(batchWorkflowId)
          .signal(returnItemsSignal, { items })
          .catch((err: unknown) =>
            log.warn('could not give items back to batch', { batchWorkflowId, error: String(err) }),
          ),
      ),
    );
    return false;
  }

  private carried(): NonNullable<LaneInput['carried']> {
    const finished = this.ledgerOn ? this.ledger.carry() : [];
    return {
      batches: this.queues.carry(),
      concurrencyOverride: this.concurrencyOverride,
      ...(this.breaker ? { breaker: this.breaker.carry() } : {}),
      ...(finished.length ? { finished } : {}),
    };
  }

  /** Hands over once nothing is in flight; returns when it must loop again first. */
  private async continueWhenDrained(): Promise<void> {
    await Promise.all([...this.sends]);
    await condition(allHandlersFinished);
    // A cancellation handled while waiting may have put skipped outcomes in an outbox: send them first.
    if (this.queues.outboxPending() || this.inFlight > 0) return;
    const carried = this.carried();
    if (!(await this.fitCarry(carried.batches))) return;
    await continueAsNew<typeof accountLane>({
      account: this.account,
      limits: this.limits,
      carried,
      ...(this.input.tuning ? { tuning: this.input.tuning } : {}),
    });
  }

  // ---- the main loop ----

  private hasWork(): boolean {
    return this.inFlight > 0 || this.queues.hasWork();
  }

  async run(): Promise<void> {
    const continueAfterEvents = this.input.tuning?.continueAfterEvents ?? HISTORY_EVENTS_BEFORE_CONTINUE;
    let idleSince: number | undefined;
    for (;;) {
      this.dirty = false;
      this.draining = shouldContinueAsNew(continueAfterEvents);
      this.failQueuedAsMisconfigured();
      const picks = this.draining ? [] : this.pick();
      // Handed-over deletions go on at once, draining or not: they hold slots until they end.
      if (picks.length || this.handed.length) this.start(picks);
      this.flushDue(this.draining);
      this.queues.prune(Date.now());
      if (this.ledgerOn) this.ledger.prune(Date.now());

      this.showDetails();

      if (this.cancelled && !this.hasWork()) {
        await Promise.all([...this.sends]);
        await condition(allHandlersFinished);
        if (!this.hasWork()) return;
        continue;
      }

      if (this.draining && this.inFlight === 0) {
        await this.continueWhenDrained();
        continue;
      }

      if (this.hasWork()) idleSince = undefined;
      else {
        idleSince ??= Date.now();
        if (Date.now() - idleSince >= IDLE_EXIT_MS) {
          await Promise.all([...this.sends]);
          await condition(allHandlersFinished);
          if (!this.dirty && !this.hasWork()) return;
          continue;
        }
        this.wakeUps.at(idleSince + IDLE_EXIT_MS, idleExitSummary(idleSince + IDLE_EXIT_MS - Date.now()));
      }
      if (!this.dirty) await condition(() => this.dirty);
    }
  }
}

/** How long a misconfigured account's circuit stays open before the next items try again. */
export const MISCONFIGURED_COOL_DOWN_MS = 60_000;
const CANCELLED = 'run cancelled before this item was started';
const LANE_CANCELLED = "not started: the account's lane was cancelled (Web UI or `temporal workflow cancel`)";
const RUN_GONE = 'not started: its run no longer runs (terminated or reset from outside)';

/** Decided from the ledger (lane/ledger.ts): the same backup twice in a run, or gone already. */
function ledgerWhy(o: Outcome): string {
  return o.duplicate ? 'ledger: the same backup twice in this run' : 'ledger: gone before this run asked';
}

/** A queued item never started, and the lane's reason for decidedBy. */
function skipped(item: ItemRef, reason: string): [Outcome, string] {
  const why =
    reason === CANCELLED
      ? 'not started: run cancelled'
      : reason === LANE_CANCELLED
        ? 'not started: lane cancelled'
        : reason === RUN_GONE
          ? 'not started: run no longer runs'
          : 'not started: batch stopped';
  return [{ ...item, outcome: 'skipped', reason }, why];
}

const bookkeepingFailed = (err: unknown) => log.error('lane bookkeeping failed', { error: String(err) });
