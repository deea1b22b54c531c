/**
 * Every `patched()` id the workflows use, in one place: what it gates, why, and when the old branch can
 * be removed. A patch id is stable API: executions recorded before the change replay through the old
 * branch (test/replay.test.ts keeps a recorded history for each). Remove a patch only when no
 * execution recorded before it can still be open (lanes continue-as-new at least every few thousand
 * events and exit after 5 idle minutes; runs and batches end with their run), then use
 * `deprecatePatch()` for one release before deleting the branch.
 */
export const PATCHES = {
  /** Lane: items started together go to one deleteBackups activity (before: one activity per item). */
  groupedDeletions: 'grouped-deletions',
  /** Lane: within a run, the oldest batch first (before: a run's batches round-robin). */
  oldestBatchFirst: 'oldest-batch-first',
  /** Lane: pipelined deletion groups (before: plain groups only). */
  pipelinedGroups: 'pipelined-groups',
  /** Lane: a pipelined group hands deletions in progress to the next at its window's end (before: it waited). */
  pipelineHandOver: 'pipeline-hand-over',
  /** Run: the waiting batch that brings the most idle accounts is activated first (before: index order). */
  accountAwareActivation: 'account-aware-activation',
  /**
   * Lane: the cross-batch ledger (one deletion per backup across batches and runs; README "Guarantees"),
   * the run's liveness passed to deletions, re-sent items inspected before they are requested again.
   * Before: a batch's own keys only.
   */
  laneLedger: 'lane-ledger',
  /**
   * Batch: the run's workflow ID goes with every chunk so the enqueue activity can refuse to queue for
   * a run that no longer runs (terminated or reset). Before: chunks were queued regardless.
   */
  runLiveness: 'run-liveness',
  /**
   * Run: discovery plans and emits each account once, and the run judges the count guards on what it
   * received. Before: every account was planned, checked, then listed and planned again to emit.
   */
  planOnce: 'plan-once',
  /**
   * Lane: an item a batch re-sends that the lane does not hold (it was started after the lane that
   * had it: terminated, reset) is never requested blindly: with the handle the batch kept it is
   * observed (taking a slot at once), without one it starts alone and the provider is asked first
   * (activities/resent-items.ts). Before: re-sent items were queued and requested like new ones.
   * Decided at the first re-send, so a lane that never sees one records no marker. Removable once no
   * lane recorded before it can be open (lanes exit after 5 idle minutes).
   */
  resentItems: 'resent-items',
  /**
   * Run: a page is cut into batches by account (workflows/batch-planning.ts, cutByAccount) instead of
   * by position, and a waiting batch that makes an idle account busy starts even beyond ACTIVE_BATCHES
   * (up to MAX_ACTIVE_BATCHES), so every account is busy from the start whatever the request's order
   * (issue 16; a list grouped by account took 2.3x the lower bound). Before: batches of 500 in request
   * order (interleaved by account within a page), at most ACTIVE_BATCHES active. Removable once no run
   * recorded before it can be open (runs end with their last batch).
   */
  accountBatches: 'account-batches',
  /** Batch: the shared wake-up timers (workflows/wake-ups.ts); before: one watchdog timer tracked at a time. */
  sharedWakeUps: 'shared-wake-ups',
  /**
   * Run: approval (issue 14; README, "Approving deletions"): a run that needs approval waits with its
   * plan, then lists policy accounts again and skips what changed. Only runs that need approval reach
   * it (before: approval did not exist, so no recorded run takes that path); removable once no run
   * recorded before it can be open.
   */
  approval: 'approval',
  /**
   * Run and lane: run events go to the sendNotification activity (workflows/run/events.ts): the run at
   * its end (run-finished, run-problems) and wherever another module raises one; a lane when its
   * circuit opens. Before: no notifications. Decided at the first event, so an execution that raises
   * none records no marker. Removable once no run or lane recorded before it can be open.
   */
  notifications: 'notifications',
  /**
   * Run: sealItems waits for addItems updates still in flight, and the guards and the approval plan
   * are judged only once no page is half added (before: a seal that overtook a page let that page's
   * later batches start unheld, outside the guards and the approved plan hash). Decided only when a
   * seal or the guard check meets an addItems in flight, so other runs record no marker. Removable once
   * no run recorded before it can be open.
   */
  sealAfterAdds: 'seal-after-adds',
} as const;
