/**
 * cleanupBatch: one page (at most BATCH_SIZE items) of a run. It feeds its items to the account lanes
 * in chunks with backpressure, collects exactly one outcome per item, reports cumulative progress to
 * its run, and returns the full per-item outcome list as its result (the run's report is read from
 * these results, so no history carries a whole run's outcomes). Its bookkeeping is the pure
 * batch/batch-items.ts; this file keeps the signals, activities and timers.
 *
 * A lane that disappears (terminated by an operator, or reset) would leave the batch waiting forever
 * for the items it held. So the batch watches each lane it has items in: after laneSilenceMs without
 * any outcome from it, it re-sends its open items for that account (signal-with-start, so a lane that
 * is gone is started again). A live lane ignores every item it already holds, so the re-send is
 * harmless; it costs one activity and one signal per silence period. A new lane holds nothing, so the
 * re-send carries the handles the deletion activities reported (acceptedSignal: Veeam session ids),
 * and the lane observes those deletions or reads the provider before requesting anything (README,
 * "Guarantees": one deletion per backup).
 *
 * Stopping (README, "Guarantees": Temporal's own controls stop deletions): the run's `cancel`, a
 * cancellation of this batch from the Web UI or `temporal workflow cancel`, and a run that no longer
 * runs (terminated or reset: the enqueue activity finds out) all end the same way: nothing more is
 * sent, items not yet sent end `skipped`, the lanes skip what they hold queued, deletions in progress
 * finish and report.
 */
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { LANE_CALL_RETRY } from '../contract/retry-rules';
import { ACTIVE_BATCHES, BatchItems, chunkSize, laneSilenceMs, laneWindow } from './batch/batch-items';
import { laneWorkflowId } from '../contract/ids';
import { own } from './keyed';
import {
  acceptedSignal,
  batchControlSignal,
  batchProgressQuery,
  batchReportSignal,
  laneBatchStateSignal,
  outcomesSignal,
  returnItemsSignal,
  skipItemsSignal,
  type BatchControl,
  type BatchReport,
  type LaneBatchState,
} from '../contract/messages';
import type { AccountLimits, ItemOutcome, ItemRef, OutcomeCounts } from '../contract/model';
import { withDecider } from './decided-by';
import { PATCHES } from './patches';
import { WakeUps } from './wake-ups';
import { described } from './handler-descriptions';
import {
  CHECK_RUN_SUMMARY,
  enqueueSummary,
  laneSilenceSummary,
  waitingRunCheckSummary,
} from '../contract/user-metadata';

export { ACTIVE_BATCHES, chunkSize, laneSilenceMs, laneWindow };

/** Items per batch: keeps a batch's input and result payloads well below 256 KB. */
export const BATCH_SIZE = 500;
/** How often a waiting batch asks whether its run still runs (see checkWaiting). */
const WAITING_RUN_CHECK_MS = 5 * 60_000;
/** Progress is reported to the run every 10% of the batch, or this often while outcomes arrive. */
const REPORT_INTERVAL_MS = 5_000;

export interface BatchInput {
  runWorkflowId: string;
  items: ItemRef[];
  accounts: Record<string, AccountLimits>;
  dryRun: boolean;
  /** 'waiting' batches start when the run activates them; this bounds the work a run puts in lanes. */
  control: BatchControl;
}

export interface BatchResult {
  batchWorkflowId: string;
  counts: OutcomeCounts;
  outcomes: ItemOutcome[];
}

const { enqueueToLane, checkRun } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: LANE_CALL_RETRY,
});

export async function cleanupBatch(input: BatchInput): Promise<BatchResult> {
  const batch = new Batch(input);
  // Cancelled from outside (Web UI, `temporal workflow cancel`): stop like the run's cancel. The work
  // itself runs in a scope that cancellation does not interrupt, so the batch still ends with one
  // outcome per item and returns its result.
  CancellationScope.current().cancelRequested.catch((err: unknown) => {
    if (isCancellation(err)) batch.cancel();
  });
  return CancellationScope.nonCancellable(() => batch.run());
}

class Batch {
  private readonly id = workflowInfo().workflowId;
  private readonly state: BatchItems;
  private control: BatchControl;
  private dirty = false;
  private cancelReason?: string;
  private laneState: LaneBatchState = 'active';
  /** The run's liveness is checked by the enqueue activity (patch 'run-liveness'). */
  private readonly livenessOn = patched(PATCHES.runLiveness);
  private readonly wake = patched(PATCHES.sharedWakeUps) ? new WakeUps(() => (this.dirty = true)) : undefined;
  private watchdogDue?: number;
  private runCheckedAt?: number;
  private lastReported = -1;
  private lastReportAt = 0;

  constructor(private readonly input: BatchInput) {
    this.control = input.control;
    this.state = new BatchItems(input.items, (a) => own(input.accounts, a)!);
    setHandler(
      outcomesSignal,
      ({ outcomes }) => {
        const now = Date.now();
        for (const o of outcomes) this.state.accept(o, now);
        this.dirty = true;
      },
      described('outcomes'),
    );
    // No state change that the loop acts on: the handles wait for a re-send (README, "Guarantees": one
    // deletion per backup).
    setHandler(
      acceptedSignal,
      ({ accepted }) => {
        for (const note of accepted) this.state.acceptedDeletion(note);
      },
      described('accepted'),
    );
    setHandler(
      returnItemsSignal,
      ({ items }) => {
        this.state.returned(items, Date.now());
        this.dirty = true;
      },
      described('returnItems'),
    );
    setHandler(
      batchControlSignal,
      ({ state, reason }) => {
        if (this.control !== 'cancelled') this.control = state;
        // A run stopped by a person's decision (a rejected plan, an approval that timed out) says so.
        if (state === 'cancelled' && reason && !this.cancelReason) this.cancelReason = reason;
        this.dirty = true;
      },
      described('batchControl'),
    );
    setHandler(
      skipItemsSignal,
      ({ keys, reason }) => {
        this.state.skipNotSent(keys, reason, new Date().toISOString());
        this.dirty = true;
      },
      described('skipItems'),
    );
    setHandler(batchProgressQuery, () => this.report(), described('batchProgress'));
  }

  cancel(): void {
    this.control = 'cancelled';
    this.dirty = true;
  }

  private report(): BatchReport {
    return this.state.report(this.id);
  }

  async run(): Promise<BatchResult> {
    if (this.input.dryRun) {
      for (const item of this.state.items)
        this.state.accept(
          withDecider(
            { ...item, outcome: 'skipped', reason: dryRunReason(item), at: new Date().toISOString() },
            'batch',
            'dry run',
          ),
        );
    }
    while (!this.state.done) {
      this.dirty = false;
      if (this.control === 'cancelled') {
        this.state.skipPending(
          this.cancelReason ?? 'run cancelled before this item was sent',
          new Date().toISOString(),
          this.cancelReason ? 'not approved' : 'cancelled',
        );
        await this.tellLanes('cancelled');
      } else if (this.control === 'paused') {
        await this.tellLanes('paused');
      } else if (this.control === 'waiting') {
        await this.checkWaiting();
      } else if (this.control === 'active') {
        if (this.laneState === 'paused') {
          await this.tellLanes('active');
          this.state.heardFromAll(Date.now());
        }
        const chunks = this.state.chunksToSend();
        if (chunks.length) {
          await Promise.all(chunks.map((c) => this.sendToLane(c.account, c.seq, c.items)));
          continue;
        }
      }
      if ((this.control === 'active' || this.control === 'cancelled') && (await this.watchdog())) continue;
      await this.sendReport(false);
      if (!this.state.done && !this.dirty) await condition(() => this.dirty);
    }
    await this.sendReport(true);
    return { batchWorkflowId: this.id, counts: this.state.countsNow, outcomes: this.state.results() };
  }

  /** Tells the lanes holding our items about a new state (once per change). */
  private async tellLanes(state: LaneBatchState): Promise<void> {
    if (this.laneState === state) return;
    this.laneState = state;
    await Promise.all(
      this.state.accountsWithOpenItems().map((a) =>
        getExternalWorkflowHandle(laneWorkflowId(a))
          .signal(laneBatchStateSignal, { batchWorkflowId: this.id, state })
          // A lane that is not running holds nothing of ours any more; the silence watchdog re-sends.
          .catch(() => undefined),
      ),
    );
  }

  private async sendToLane(
    account: string,
    seq: number,
    items: ItemRef[],
    resend?: LaneBatchState,
  ): Promise<void> {
    let result: Awaited<ReturnType<typeof enqueueToLane>> | undefined;
    // A re-send carries what the provider already accepted: a restarted lane observes those deletions.
    const accepted = resend ? this.state.handlesOf(items) : [];
    try {
      result = await enqueueToLane.executeWithOptions(
        { summary: enqueueSummary(account, items.length, resend !== undefined) },
        [
          {
            batchWorkflowId: this.id,
            chunk: seq,
            items,
            limits: own(this.input.accounts, account)!,
            ...(resend ? { state: resend, resend: true } : {}),
            ...(accepted.length ? { accepted } : {}),
            ...(this.livenessOn ? { runWorkflowId: this.input.runWorkflowId } : {}),
          },
        ],
      );
    } catch (err) {
      // The lane could not be reached within the retry budget: the items stay open and the silence
      // watchdog sends them again.
      log.warn('could not hand a chunk to its lane; the watchdog will send it again', {
        account,
        error: String(err),
      });
    }
    this.state.heardFrom(account, Date.now());
    if (result?.runStopped) this.runStopped(result.runStopped, items);
  }

  /** The run no longer runs: what was not queued ends skipped, and the batch stops like a cancel. */
  private runStopped(status: string, notQueued: ItemRef[]): void {
    log.warn('the run no longer runs: stopping this batch', { run: this.input.runWorkflowId, status });
    const reason = `not deleted: run ${this.input.runWorkflowId} is ${status} (stopped from outside) before this item was sent`;
    const at = new Date().toISOString();
    for (const item of notQueued)
      this.state.accept(
        withDecider({ ...item, outcome: 'skipped', reason, at }, 'run', 'stopped from outside', at),
      );
    this.cancel();
  }

  /**
   * A waiting batch sends nothing, so it would never learn that its run was terminated: it asks every
   * WAITING_RUN_CHECK_MS (one timer and one activity; it deletes nothing meanwhile either way).
   */
  private async checkWaiting(): Promise<void> {
    if (!this.livenessOn || !this.wake || this.control !== 'waiting') return;
    const now = Date.now();
    this.runCheckedAt ??= now;
    if (now < this.runCheckedAt + WAITING_RUN_CHECK_MS)
      return this.wake.at(
        this.runCheckedAt + WAITING_RUN_CHECK_MS,
        waitingRunCheckSummary(this.runCheckedAt + WAITING_RUN_CHECK_MS - now),
      );
    this.runCheckedAt = now;
    const { runStopped } = await checkRun
      .executeWithOptions({ summary: CHECK_RUN_SUMMARY }, [{ runWorkflowId: this.input.runWorkflowId }])
      .catch(() => ({ runStopped: undefined }));
    if (runStopped) this.runStopped(runStopped, []);
    else this.wake.at(now + WAITING_RUN_CHECK_MS, waitingRunCheckSummary(WAITING_RUN_CHECK_MS));
  }

  /** Re-sends to lanes that have been silent too long; true when it sent something. */
  private async watchdog(): Promise<boolean> {
    const { due, next } = this.state.silentLanes(Date.now());
    if (due.length) {
      await Promise.all(
        due.map(({ account, items }) => {
          log.warn('lane silent too long: re-sending open items', { account, items: items.length });
          const c = this.state.sent(account, items);
          return this.sendToLane(account, c.seq, c.items, this.laneState);
        }),
      );
      return true;
    }
    if (next < Infinity) this.armWatchdog(next);
    return false;
  }

  /** The watchdog's timer (see WakeUps); batches recorded before it kept one timer in view at a time. */
  private armWatchdog(due: number): void {
    const summary = laneSilenceSummary(due - Date.now());
    if (this.wake) return this.wake.at(due, summary);
    if (this.watchdogDue !== undefined && this.watchdogDue <= due) return;
    this.watchdogDue = due;
    sleep(Math.max(1, due - Date.now()), { summary })
      .then(() => {
        if (this.watchdogDue === due) this.watchdogDue = undefined;
        this.dirty = true;
      })
      .catch(() => undefined);
  }

  private async sendReport(force: boolean): Promise<void> {
    const n = this.state.outcomeCount;
    const fresh = n - this.lastReported;
    const every = Math.max(10, Math.ceil(this.state.items.length / 10));
    if (!force && (fresh <= 0 || (fresh < every && Date.now() - this.lastReportAt < REPORT_INTERVAL_MS)))
      return;
    this.lastReported = n;
    this.lastReportAt = Date.now();
    await getExternalWorkflowHandle(this.input.runWorkflowId)
      .signal(batchReportSignal, this.report())
      .catch((err: unknown) => log.warn('run did not take the batch report', { error: String(err) }));
  }
}

/** A dry run says what would happen to the item; policy runs also name the deciding rule. */
function dryRunReason(item: ItemRef): string {
  if (!item.plan) return 'dry run: nothing deleted';
  return item.plan.startsWith('keep: ')
    ? `kept by policy (${item.plan.slice(6)})`
    : `dry run: would delete (${item.plan.replace(/^delete: /, '')})`;
}
