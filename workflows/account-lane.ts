/**
 * accountLane: one long-lived workflow per provider account (ID from laneWorkflowId) that owns the
 * account's concurrency window. Every run's batches feed it chunks through signal-with-start; the
 * lane serves runs round-robin (and each run's batches round-robin), runs one deletion activity per
 * item, and sends outcomes back to each batch in small bundles. Because one workflow owns the window,
 * the limit holds across all runs and all worker processes (promise 2).
 *
 * Exactly one outcome per item (promise 1) rests on three rules here:
 *  - an item is "held" from the moment it is queued until its outcome has been signalled to its batch;
 *    a held item that arrives again (a retried enqueue, or a batch's re-enqueue after a silence) is
 *    ignored, and so is one whose outcome was signalled moments ago (that signal may still be in flight);
 *  - a batch's chunk numbers are remembered for MEMORY_TTL_MS after its last chunk, beyond the moment
 *    its queue empties and across continue-as-new, so a retried enqueue activity that re-delivers an
 *    old chunk never deletes its items a second time (Veeam's delete is not idempotent, promise 3);
 *  - continue-as-new waits until nothing is in flight and every outcome has been signalled, then hands
 *    the queued items and the chunk memory to the next execution. What it carries is bounded
 *    (CARRY_BUDGET_BYTES): beyond it, the newest queued items go back to their batches (never started,
 *    so nothing is lost or repeated) and are sent again later; without that bound the carry would grow
 *    with the number of runs feeding the account at once.
 *
 * History cost per item: a share of one activity (items started at the same moment go to the provider as
 * one group, see activities/delete-backup.ts) plus a share of the workflow tasks; outcomes leave in
 * bundles of LANE_FLUSH_SIZE; the lane keeps at most one pending timer per due time (no timer is
 * started and cancelled per activation).
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeleteBackupInput, GroupItemResult, HandedOver } from '../activities/delete-backup';
import { failedOutcomeFrom, NON_RETRYABLE_ERROR_TYPES } from './activity-failures';
import { CircuitBreaker, type CarriedBreaker } from './circuit-breaker';
import { runWorkflowIdOf } from './ids';
import {
  enqueueSignal,
  laneBatchStateSignal,
  laneStatusQuery,
  outcomesSignal,
  returnItemsSignal,
  setConcurrencyUpdate,
  type EnqueueRequest,
  type LaneBatchState,
} from './messages';
import { itemKey, NEVER_REPEAT_DELETE, type AccountLimits, type ItemOutcome, type ItemRef } from './model';
import { rateWaitMs } from './rate-window';

/** Outcomes are sent to a batch once this many are waiting... */
export const LANE_FLUSH_SIZE = 25;
/** ...or once the oldest has waited this long, or the batch has nothing left in the lane. */
export const FLUSH_AFTER_MS = 3_000;
/**
 * An idle lane ends after this long; the next enqueue starts it again. Long enough that a retried
 * enqueue activity (start-to-close 30 s, then a retry) still finds the chunk memory.
 */
export const IDLE_EXIT_MS = 5 * 60_000;
/**
 * Continue-as-new well before Temporal's 10,240-event warning. Draining then adds about three events
 * per in-flight item (completion plus a share of workflow tasks and outcome signals), so even at the
 * config's maximum concurrency of 1000 an execution stays near 6,000 events.
 */
export const HISTORY_EVENTS_BEFORE_CONTINUE = 3_000;
/**
 * Items started at the same moment go to the provider as one deleteBackups activity of at most this
 * many (one activity and one heartbeat for the group instead of one of each per item).
 */
export const MAX_GROUP = 10;
/** Patch id: lanes recorded before groups existed replay with one activity per item. */
const GROUPED_DELETIONS = 'grouped-deletions';
/**
 * Patch id: within a run, the lane serves the run's oldest batch first (lanes recorded before served a
 * run's batches round-robin). A run's batches then finish one after another and the run activates the
 * next while the lane still has the others' items queued; round-robin finished them all at once and
 * left every lane idle until the next ones arrived.
 */
const OLDEST_BATCH_FIRST = 'oldest-batch-first';
/** Patch id: lanes recorded before pipelined groups existed replay with plain groups only. */
const PIPELINED_GROUPS = 'pipelined-groups';
/**
 * Patch id: a pipelined group hands its deletions in progress over at its window's end (the next group
 * observes them) instead of waiting for them; lanes recorded before waited.
 */
const PIPELINE_HAND_OVER = 'pipeline-hand-over';
/**
 * A pipelined group (see activities/delete-backup.ts PipelineInput) starts its later items within this
 * long of being scheduled: the bound on how late a pause, a cancellation or a lowered concurrency
 * reaches the items handed to it (and never more than a quarter of the deletion deadline).
 */
export const PIPELINE_WINDOW_MS = 2_000;
/** Most items handed to one pipelined group (bounds its input and result payloads). */
export const MAX_PIPELINED_ITEMS = 100;
/** Items per slot handed to the first pipelined group beyond the one each slot starts with. */
const FIRST_PIPELINE_DEPTH = 8;
/** The same, in lanes recorded before the hand-over (their groups must replay with the same items). */
const FIRST_PIPELINE_DEPTH_BEFORE_HAND_OVER = 2;
/** How long a batch's chunk numbers and state are remembered after it was last heard from. */
const MEMORY_TTL_MS = 30 * 60_000;
/** Most work-free batches remembered (the oldest are forgotten first); bounds the continue-as-new input. */
const MAX_REMEMBERED_BATCHES = 300;
/** Keys whose outcome was signalled this recently are not queued again by a re-enqueue. */
const RECENT_TTL_MS = 60_000;
const RECENT_FLUSHES_KEPT = 4;
/** Most bytes (JSON) of state handed to the next execution: half the 256 KB payload limit. */
export const CARRY_BUDGET_BYTES = 128 * 1024;

/** An item taken from its batch's queue to start. */
interface Started {
  b: LaneBatch;
  item: ItemRef;
}

/** A deletion in progress that a pipelined group handed over; it holds its slot. */
interface Handed extends Started {
  handed: HandedOver;
}

interface LaneBatch {
  run: string;
  state: LaneBatchState;
  /** Highest chunk sequence number seen from this batch. */
  lastChunk: number;
  touchedAt: number;
  /** Queued, not started. */
  items: ItemRef[];
  /** Keys queued, in flight, or waiting in the outbox. */
  held: Set<string>;
  inFlight: number;
  outbox: ItemOutcome[];
  oldestOutboxAt?: number;
  /** Keys of the last few bundles signalled to the batch. */
  recent: { at: number; keys: Set<string> }[];
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

/** Overrides of the lane's constants, for tests that need continue-as-new every few items. */
export interface LaneTuning {
  continueAfterEvents?: number;
  carryBudgetBytes?: number;
}

export interface LaneInput {
  account: string;
  limits: AccountLimits;
  /** State handed over by continue-as-new. */
  carried?: { batches: CarriedBatch[]; concurrencyOverride?: number; breaker?: CarriedBreaker };
  tuning?: LaneTuning;
}

export async function accountLane(input: LaneInput): Promise<void> {
  const account = input.account;
  const tuning = input.tuning;
  const continueAfterEvents = tuning?.continueAfterEvents ?? HISTORY_EVENTS_BEFORE_CONTINUE;
  const carryBudget = tuning?.carryBudgetBytes ?? CARRY_BUDGET_BYTES;
  let limits = input.limits;
  let concurrencyOverride = input.carried?.concurrencyOverride;
  const batches = new Map<string, LaneBatch>();
  let inFlight = 0;
  let completed = 0;
  let dirty = false;
  const recentStarts: number[] = [];
  const sends = new Set<Promise<void>>();
  // The failure circuit breaker, when the account's limits configure one (see circuit-breaker.ts).
  let breaker = limits.circuitBreaker && new CircuitBreaker(limits.circuitBreaker, input.carried?.breaker);
  const configureBreaker = () => {
    if (!limits.circuitBreaker) breaker = undefined;
    else if (breaker) breaker.configure(limits.circuitBreaker);
    else breaker = new CircuitBreaker(limits.circuitBreaker);
  };

  const concurrency = () => Math.min(concurrencyOverride ?? limits.maxConcurrent, limits.maxConcurrent);

  const batchFor = (batchWorkflowId: string): LaneBatch => {
    let b = batches.get(batchWorkflowId);
    if (!b) {
      b = {
        run: runWorkflowIdOf(batchWorkflowId),
        state: 'active',
        lastChunk: -1,
        touchedAt: Date.now(),
        items: [],
        held: new Set(),
        inFlight: 0,
        outbox: [],
        recent: [],
      };
      batches.set(batchWorkflowId, b);
    }
    return b;
  };

  for (const c of input.carried?.batches ?? []) {
    const b = batchFor(c.batchWorkflowId);
    b.state = c.state;
    b.lastChunk = c.lastChunk;
    b.touchedAt = c.touchedAt;
    for (const [id, checkpointId] of c.items ?? []) {
      const item: ItemRef = checkpointId ? { account, id, checkpointId } : { account, id };
      b.items.push(item);
      b.held.add(itemKey(item));
    }
    b.recent = (c.recent ?? []).map((r) => ({ at: r.at, keys: new Set(r.keys) }));
  }

  const record = (b: LaneBatch, outcome: Omit<ItemOutcome, 'at'>) => {
    if (breaker) breakerRecord(breaker, outcome);
    b.outbox.push({ ...outcome, at: new Date().toISOString() });
    b.oldestOutboxAt ??= Date.now();
    dirty = true;
  };

  const breakerTrips = metricMeter.createCounter(
    'retention_circuit_breaker_trips_total',
    '',
    'Times an account lane paused the account because too many deletions failed',
  );
  const breakerRecord = (cb: CircuitBreaker, outcome: Omit<ItemOutcome, 'at'>) => {
    const event = cb.record(outcome.outcome, Date.now(), itemKey(outcome), outcome.reason);
    if (!event) return;
    const c = limits.circuitBreaker!;
    if (event.kind === 'closed') {
      log.info('circuit breaker closed: the probe succeeded, starting deletions again', { account });
      return;
    }
    breakerTrips.add(1, { account, provider: limits.provider });
    log.warn(
      event.kind === 'tripped'
        ? `circuit breaker tripped for account ${account}: ${event.failures} of the last ${event.completed} deletions failed (threshold failureRate ${c.failureRate} over window ${c.window}); no new deletions until ${new Date(event.openUntil).toISOString()}`
        : `circuit breaker re-opened for account ${account}: the probe failed; no new deletions until ${new Date(event.openUntil).toISOString()}`,
      {
        account,
        failureRate: c.failureRate,
        window: c.window,
        coolDownMs: c.coolDownMs,
        reason: event.reason,
        openUntil: new Date(event.openUntil).toISOString(),
      },
    );
  };

  const skip = (b: LaneBatch, item: ItemRef, reason: string) => {
    b.held.add(itemKey(item));
    record(b, { ...item, outcome: 'skipped', reason });
  };

  const setState = (b: LaneBatch, state: LaneBatchState) => {
    if (b.state === 'cancelled') return; // final: a late 'active' must not revive a cancelled batch
    b.state = state;
    if (state === 'cancelled') {
      // Queued items of a cancelled run are never started; in-flight ones finish and report normally.
      for (const item of b.items.splice(0)) skip(b, item, 'run cancelled before this item was started');
    }
  };

  const enqueue = (req: EnqueueRequest) => {
    if (req.limits.name === account) {
      limits = req.limits;
      configureBreaker();
    }
    const b = batchFor(req.batchWorkflowId);
    b.touchedAt = Date.now();
    dirty = true;
    if (req.chunk <= b.lastChunk) return; // redelivered chunk (the enqueue activity was retried)
    b.lastChunk = req.chunk;
    if (req.state) setState(b, req.state);
    let ignored = 0;
    for (const item of req.items) {
      const key = itemKey(item);
      if (b.held.has(key) || b.recent.some((r) => r.keys.has(key))) {
        ignored++;
        continue;
      }
      if (b.state === 'cancelled') skip(b, item, 'run cancelled before this item was started');
      else {
        b.held.add(key);
        b.items.push(item);
      }
    }
    if (req.resend)
      log.info('batch re-sent its open items', {
        batchWorkflowId: req.batchWorkflowId,
        items: req.items.length,
        alreadyHeld: ignored,
      });
  };

  setHandler(enqueueSignal, enqueue);
  setHandler(laneBatchStateSignal, ({ batchWorkflowId, state }) => {
    const b = batchFor(batchWorkflowId);
    b.touchedAt = Date.now();
    setState(b, state);
    dirty = true;
  });
  setHandler(
    setConcurrencyUpdate,
    ({ concurrency: n }) => {
      concurrencyOverride = n;
      dirty = true;
      return { concurrency: concurrency(), max: limits.maxConcurrent };
    },
    {
      validator: (arg) => {
        const n = arg?.concurrency;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > limits.maxConcurrent) {
          throw new Error(
            `concurrency: must be a whole number from 1 to ${limits.maxConcurrent} (account ${account}'s configured maxConcurrent), got ${JSON.stringify(n)}`,
          );
        }
      },
    },
  );
  setHandler(laneStatusQuery, () => ({
    account,
    concurrency: concurrency(),
    maxConcurrent: limits.maxConcurrent,
    inFlight,
    queued: Object.fromEntries(
      [...batches].filter(([, b]) => b.items.length).map(([id, b]) => [id, b.items.length]),
    ),
    completedThisExecution: completed,
    ...(breaker ? { circuitBreaker: breaker.status(Date.now()) } : {}),
  }));

  /**
   * Round-robin over runs, so a big run never starves a small one; within a run, its oldest batch first
   * (OLDEST_BATCH_FIRST). Keys are visited in sorted order, so the choice is deterministic.
   */
  let lastRun = '';
  const lastBatchOfRun = new Map<string, string>();
  const after = (sorted: string[], last: string | undefined) =>
    sorted.find((k) => last === undefined || k > last) ?? sorted[0]!;
  const startable = () => [...batches.values()].some((b) => b.state === 'active' && b.items.length > 0);
  const nextItem = (): Started | undefined => {
    const byRun = new Map<string, string[]>();
    for (const [id, b] of batches) {
      if (b.state !== 'active' || !b.items.length) continue;
      const list = byRun.get(b.run);
      if (list) list.push(id);
      else byRun.set(b.run, [id]);
    }
    if (!byRun.size) return undefined;
    const run = after([...byRun.keys()].sort(), lastRun);
    lastRun = run;
    const ids = byRun.get(run)!.sort();
    const id = patched(OLDEST_BATCH_FIRST) ? ids[0]! : after(ids, lastBatchOfRun.get(run));
    lastBatchOfRun.set(run, id);
    const b = batches.get(id)!;
    return { b, item: b.items.shift()! };
  };

  // One activity proxy per distinct set of limits (config changes reach new deletions at once).
  const proxies = new Map<string, Pick<Activities, 'deleteBackup' | 'deleteBackups'>>();
  const deletionActivitiesFor = (l: AccountLimits): Pick<Activities, 'deleteBackup' | 'deleteBackups'> => {
    const key = [
      l.deletionDeadlineMs,
      l.pollIntervalMs,
      l.retryInitialIntervalMs,
      l.retryMaxIntervalMs,
      l.maxAttempts,
    ].join('/');
    let fn = proxies.get(key);
    if (!fn) {
      fn = proxyActivities<Activities>({
        // The deadline covers every attempt: past it the item ends `failed`, never hangs.
        scheduleToCloseTimeout: l.deletionDeadlineMs,
        // A worker that dies mid-deletion is noticed within this time; the retry resumes from heartbeat
        // details. Not shorter than 30 s: the SDK sends heartbeats at most every 80% of it, and every
        // heartbeat that reaches the server is a billed action.
        heartbeatTimeout: Math.max(30_000, 3 * l.pollIntervalMs),
        retry: {
          initialInterval: l.retryInitialIntervalMs,
          backoffCoefficient: 2,
          maximumInterval: l.retryMaxIntervalMs,
          maximumAttempts: l.maxAttempts,
          nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
        },
      });
      proxies.set(key, fn);
    }
    return fn;
  };

  /** An item's slot is taken from its start until its outcome is recorded. */
  const take = (b: LaneBatch) => {
    inFlight++;
    b.inFlight++;
  };
  const release = (b: LaneBatch) => {
    inFlight--;
    b.inFlight--;
  };
  const settle = (b: LaneBatch, outcome: Omit<ItemOutcome, 'at'>) => {
    record(b, outcome);
    completed++;
    dirty = true;
  };
  const finish = (b: LaneBatch, outcome: Omit<ItemOutcome, 'at'>) => {
    release(b);
    settle(b, outcome);
  };
  const bookkeepingFailed = (err: unknown) => log.error('lane bookkeeping failed', { error: String(err) });

  /** One item as its own activity; `from` is where a group left it (accepted, or its request failed). */
  const runOne = (
    b: LaneBatch,
    item: ItemRef,
    from: Pick<DeleteBackupInput, 'accepted' | 'groupError'> = {},
  ) => {
    deletionActivitiesFor(limits)
      .deleteBackup({ item, pollIntervalMs: limits.pollIntervalMs, ...from })
      .then(
        (outcome) => finish(b, outcome),
        (err: unknown) => finish(b, failedOutcomeFrom(item, err)),
      )
      .catch(bookkeepingFailed);
  };

  /** What a group left of an item holding a slot: its outcome, or the item continued alone. */
  const afterGroup = (b: LaneBatch, item: ItemRef, r: GroupItemResult | undefined) => {
    if (!r || 'notStarted' in r)
      finish(b, failedOutcomeFrom(item, 'the deletion group returned no result for this item'));
    else if ('outcome' in r) finish(b, r.outcome);
    else if ('handedOver' in r) runOne(b, item, { accepted: r.handedOver.accepted });
    else runOne(b, item, r.continueWith ? { accepted: r.continueWith } : { groupError: r.requestError });
  };

  /**
   * Starts the items picked in one activation: alone, or in groups of up to MAX_GROUP. A group's items
   * that are still pending when it ends (or met an error) continue as their own activities and keep
   * their slots; a group that gives up entirely (deadline, worker-side failure) fails its items.
   */
  const start = (picks: Started[]) => {
    const resumed = handed.splice(0);
    if (
      resumed.length
        ? canGroup([...resumed, ...picks])
        : canPipeline(picks) && patched(GROUPED_DELETIONS) && patched(PIPELINED_GROUPS)
    ) {
      startPipelined(picks, resumed);
      return;
    }
    // Handed over while the lane can no longer pipeline (a second run, the breaker): each goes on alone.
    for (const h of resumed) runOne(h.b, h.item, { accepted: h.handed.accepted });
    if (!picks.length) return;
    for (const p of picks) take(p.b);
    if (picks.length === 1 || NEVER_REPEAT_DELETE.has(limits.provider) || !patched(GROUPED_DELETIONS)) {
      for (const p of picks) runOne(p.b, p.item);
      return;
    }
    for (let i = 0; i < picks.length; i += MAX_GROUP) {
      const group = picks.slice(i, i + MAX_GROUP);
      deletionActivitiesFor(limits)
        .deleteBackups({ items: group.map((p) => p.item), pollIntervalMs: limits.pollIntervalMs })
        .then(
          (results) => group.forEach(({ b, item }, k) => afterGroup(b, item, results[k])),
          (err: unknown) => group.forEach(({ b, item }) => finish(b, failedOutcomeFrom(item, err))),
        )
        .catch(bookkeepingFailed);
    }
  };

  /**
   * Pipelined groups: while one runs it owns the account's request rate, so the lane starts nothing
   * else until it returns (slots freed meanwhile wait at most PIPELINE_WINDOW_MS). `depth` (items per
   * slot beyond the first) doubles while groups start everything they are given and shrinks to what
   * they managed, plus one, when they hand items back, so slow providers are not handed items they
   * cannot start.
   */
  let pipelineRunning = false;
  /** Set while the lane waits for its deletions to end before continue-as-new. */
  let draining = false;
  /** What the last pipelined group handed over, waiting for the next (each holds its slot). */
  const handed: Handed[] = [];
  let depth: number | undefined;
  // 80 to 100% of the bound, at random (deterministic in a workflow): lanes started together would
  // otherwise end their groups together, and their workflow tasks would queue behind each other.
  const pipelineWindowMs = () =>
    Math.min(PIPELINE_WINDOW_MS * (0.8 + 0.2 * Math.random()), limits.deletionDeadlineMs / 4);
  /**
   * Only while a single run feeds the lane: a group's outcomes are recorded when it returns, and the
   * items it holds are not shared round-robin with a run that arrives meanwhile, so with several runs
   * the lane keeps to plain groups and serves them item by item.
   */
  const canPipeline = (picks: Started[]) => startable() && canGroup(picks);
  /** Groups may pipeline: the provider's deletes may repeat, the breaker is closed, one run feeds the lane. */
  const canGroup = (picks: Started[]) => {
    if (NEVER_REPEAT_DELETE.has(limits.provider)) return false;
    if (breaker && breaker.state(Date.now()) !== 'closed') return false;
    const runs = new Set(picks.map((p) => p.b.run));
    for (const b of batches.values()) if (b.state === 'active' && b.items.length) runs.add(b.run);
    return runs.size === 1;
  };

  /** `resumed`: deletions the previous group handed over (they hold their slots already). */
  const startPipelined = (picks: Started[], resumed: Handed[]) => {
    // Decided per group, so a lane recorded before the hand-over replays with the group sizes it used:
    // a group's result is matched to its items by position.
    const handOverRules = patched(PIPELINE_HAND_OVER);
    depth ??= handOverRules ? FIRST_PIPELINE_DEPTH : FIRST_PIPELINE_DEPTH_BEFORE_HAND_OVER;
    const slots = resumed.length + picks.length;
    const extras: Started[] = [];
    const want = draining ? 0 : Math.min(slots * depth, MAX_PIPELINED_ITEMS - slots);
    while (extras.length < want && startable()) extras.push(nextItem()!);
    for (const p of picks) take(p.b);
    for (const x of extras) x.b.inFlight++; // held by the group, not yet in the account's window
    const all = [...resumed, ...picks, ...extras];
    pipelineRunning = true;
    const done = () => {
      pipelineRunning = false;
      for (const p of [...resumed, ...picks]) release(p.b);
      for (const x of extras) x.b.inFlight--;
      dirty = true;
    };
    // Not while the lane drains for continue-as-new: then the group sees its deletions to the end.
    const handOver = !draining && handOverRules;
    deletionActivitiesFor(limits)
      .deleteBackups({
        items: all.map((p) => p.item),
        pollIntervalMs: limits.pollIntervalMs,
        pipeline: {
          slots,
          startWithinMs: pipelineWindowMs(),
          requestsPerSecond: limits.requestsPerSecond,
          // Without the picks' own entries: the group records when their requests actually go out.
          recentStarts: recentStarts.slice(0, recentStarts.length - picks.length),
          ...(handOver ? { handOver } : {}),
          ...(resumed.length ? { resumed: resumed.map((h) => h.handed) } : {}),
        },
      })
      .then(
        (results) => {
          done();
          const back = new Map<LaneBatch, ItemRef[]>();
          let started = 0;
          all.forEach(({ b, item }, k) => {
            const r = results[k];
            // A resumed deletion's request was counted when the group that made it returned.
            if (r?.requestedAt !== undefined && k >= resumed.length) {
              if (k >= slots) started++;
              recentStarts.push(r.requestedAt);
            }
            if (r && 'notStarted' in r) back.set(b, [...(back.get(b) ?? []), item]);
            else if (r && 'handedOver' in r) {
              take(b);
              handed.push({ b, item, handed: r.handedOver });
            } else {
              take(b);
              afterGroup(b, item, r);
            }
          });
          recentStarts.sort((x, y) => x - y);
          // Never started: back to the front of their queues, still held (or skipped if the run was cancelled).
          for (const [b, items] of back) {
            if (b.state === 'cancelled')
              for (const item of items) skip(b, item, 'run cancelled before this item was started');
            else b.items.unshift(...items);
          }
          if (handOverRules && !extras.length) return;
          if (started === extras.length) depth = Math.min(depth! * 2, MAX_PIPELINED_ITEMS);
          // One spare per slot: a group that runs dry before its window's end idles its slots.
          else
            depth = handOverRules ? Math.ceil(started / slots) + 1 : Math.max(1, Math.floor(started / slots));
        },
        (err: unknown) => {
          done();
          for (const { b, item } of all) settle(b, failedOutcomeFrom(item, err));
        },
      )
      .catch(bookkeepingFailed);
  };

  const flush = (batchWorkflowId: string, b: LaneBatch) => {
    const now = Date.now();
    const outcomes = b.outbox.splice(0);
    const keys = new Set(outcomes.map((o) => itemKey(o)));
    for (const k of keys) b.held.delete(k);
    b.recent.push({ at: now, keys });
    if (b.recent.length > RECENT_FLUSHES_KEPT) b.recent.shift();
    b.oldestOutboxAt = undefined;
    b.touchedAt = now;
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
      .finally(() => sends.delete(p));
    sends.add(p);
  };

  /** Sends due outbox bundles; arms a wake-up for the next one that is not due yet. */
  const flushDue = (force: boolean) => {
    const now = Date.now();
    for (const [id, b] of batches) {
      if (!b.outbox.length) continue;
      const nothingLeft = b.items.length === 0 && b.inFlight === 0;
      const due = (b.oldestOutboxAt ?? now) + FLUSH_AFTER_MS;
      if (force || nothingLeft || b.outbox.length >= LANE_FLUSH_SIZE || due <= now) flush(id, b);
      else wakeAt(due);
    }
  };

  /** Forgets work-free batches after MEMORY_TTL_MS (the oldest first beyond MAX_REMEMBERED_BATCHES). */
  const prune = () => {
    const now = Date.now();
    const idle: [string, LaneBatch][] = [];
    for (const [id, b] of batches) {
      b.recent = b.recent.filter((r) => r.at > now - RECENT_TTL_MS);
      if (b.items.length || b.inFlight || b.outbox.length) continue;
      if (b.touchedAt <= now - MEMORY_TTL_MS) batches.delete(id);
      else idle.push([id, b]);
    }
    if (idle.length > MAX_REMEMBERED_BATCHES) {
      idle.sort((x, y) => x[1].touchedAt - y[1].touchedAt);
      for (const [id] of idle.slice(0, idle.length - MAX_REMEMBERED_BATCHES)) batches.delete(id);
    }
    const runs = new Set([...batches.values()].map((b) => b.run));
    for (const r of [...lastBatchOfRun.keys()]) if (!runs.has(r)) lastBatchOfRun.delete(r);
  };

  /**
   * Wake-ups without a timer per activation: a timer is started only when no pending one falls due
   * first, and pending timers are never cancelled (a spurious wake-up costs less than a cancel).
   */
  const wakes: number[] = [];
  const wakeAt = (due: number) => {
    if (wakes.some((w) => w <= due)) return;
    wakes.push(due);
    sleep(Math.max(1, Math.ceil(due - Date.now())))
      .then(() => {
        wakes.splice(wakes.indexOf(due), 1);
        dirty = true;
      })
      .catch(() => undefined); // cancelled with the workflow
  };

  const carriedItem = (i: ItemRef): CarriedItem => (i.checkpointId ? [i.id, i.checkpointId] : [i.id]);
  const carry = (): CarriedBatch[] =>
    [...batches].map(([batchWorkflowId, b]) => ({
      batchWorkflowId,
      state: b.state,
      lastChunk: b.lastChunk,
      touchedAt: b.touchedAt,
      ...(b.items.length ? { items: b.items.map(carriedItem) } : {}),
      ...(b.recent.length ? { recent: b.recent.map((r) => ({ at: r.at, keys: [...r.keys] })) } : {}),
    }));

  /**
   * Keeps the continue-as-new input within carryBudget: gives the newest queued items of the longest
   * queues back to their batches. Returns false if it gave anything back (then the caller loops once
   * more, so signals that arrived meanwhile are handled before the hand-over); true when the carry fits
   * or nothing is left to give back (chunk memory alone is bounded by MAX_REMEMBERED_BATCHES). Never
   * false without having awaited a signal: a loop that does not yield would never end the activation.
   */
  const fitCarry = async (carried: CarriedBatch[]): Promise<boolean> => {
    let excess = JSON.stringify(carried).length - carryBudget;
    if (excess <= 0) return true;
    const back = new Map<string, ItemRef[]>();
    const queues = [...batches].filter(([, b]) => b.items.length);
    while (excess > 0) {
      queues.sort(([x, a], [y, b]) => b.items.length - a.items.length || (x < y ? -1 : 1));
      const [id, b] = queues[0] ?? [];
      if (!id || !b?.items.length) break;
      const item = b.items.pop()!;
      b.held.delete(itemKey(item));
      excess -= JSON.stringify(carriedItem(item)).length + 1;
      back.set(id, [item, ...(back.get(id) ?? [])]);
    }
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
  };

  const hasWork = () => inFlight > 0 || [...batches.values()].some((b) => b.items.length || b.outbox.length);
  const outboxPending = () => [...batches.values()].some((b) => b.outbox.length);

  let idleSince: number | undefined;
  for (;;) {
    dirty = false;
    const info = workflowInfo();
    draining = info.continueAsNewSuggested || info.historyLength > continueAfterEvents;
    const picks: Started[] = [];
    if (!draining) {
      while (!pipelineRunning && inFlight + picks.length < concurrency() && startable()) {
        if (breaker && !breaker.canStart(Date.now())) {
          // Open: queued items wait (never failed or skipped); wake up when the cool-down ends. While
          // the half-open probe is in flight there is nothing to wake for: its outcome wakes the loop.
          if (breaker.state(Date.now()) === 'open') wakeAt(breaker.openUntil!);
          break;
        }
        const wait = rateWaitMs(recentStarts, limits.requestsPerSecond, Date.now());
        if (wait > 0) {
          wakeAt(Date.now() + wait);
          break;
        }
        const next = nextItem()!;
        breaker?.started(itemKey(next.item), Date.now());
        picks.push(next);
        recentStarts.push(Date.now());
      }
    }
    // Handed-over deletions go on at once, draining or not: they hold slots until they end.
    if (picks.length || handed.length) start(picks);
    flushDue(draining);
    prune();

    if (draining && inFlight === 0) {
      await Promise.all([...sends]);
      await condition(allHandlersFinished);
      // A cancellation handled while waiting may have put skipped outcomes in an outbox: send them first.
      if (outboxPending() || inFlight > 0) continue;
      const carried = carry();
      if (!(await fitCarry(carried))) continue;
      await continueAsNew<typeof accountLane>({
        account,
        limits,
        carried: { batches: carried, concurrencyOverride, ...(breaker ? { breaker: breaker.carry() } : {}) },
        ...(tuning ? { tuning } : {}),
      });
    }

    if (hasWork()) idleSince = undefined;
    else {
      idleSince ??= Date.now();
      if (Date.now() - idleSince >= IDLE_EXIT_MS) {
        await Promise.all([...sends]);
        await condition(allHandlersFinished);
        if (!dirty && !hasWork()) return;
        continue;
      }
      wakeAt(idleSince + IDLE_EXIT_MS);
    }
    if (!dirty) await condition(() => dirty);
  }
}
