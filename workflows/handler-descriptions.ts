/**
 * What each signal, query and update does, in the words the Web UI and `temporal workflow metadata`
 * show next to its name. Kept in one map, keyed by the handler's name, so docs/handlers.md and the
 * test that checks every registered handler has a description (test/user-metadata.test.ts) read the
 * same text the workflows register. A handler added without an entry here gets no description and
 * that test fails.
 *
 * Descriptions are not part of any workflow command: adding or rewording one never affects replay.
 */
export const HANDLER_DESCRIPTIONS: Record<string, string> = {
  // ---- run (retentionCleanup) ----
  progress:
    'Query, no input. Live progress of the run: state, counts per outcome and per account, items in flight, rate per minute and ETA.',
  pause:
    'Signal. Input: {"reason": "..."} (optional). Stops starting new deletions in every batch of this run; deletions already sent to the provider finish. Resume with `resume`.',
  resume: 'Signal, no input. Undoes `pause`: the paused batches start deleting again.',
  cancel:
    'Signal. Input: {"reason": "..."} (optional). Stops the run for good: items not yet started end `skipped`, deletions in progress finish, and the run completes with `cancelled: true` and its report.',
  addItems:
    'Update. Input: {"items": [{"account": "...", "id": "..."}, ...]} (at most 1000 per call, same item fields as the request). Adds a page of items to a run started with "itemsToFollow": true; refused once the run is sealed or cancelled.',
  sealItems:
    'Update, no input. No more `addItems` pages will follow: the run judges its count guards and finishes once every item has an outcome. Returns {"total": n}.',
  batchReport:
    "Signal (internal: sent by the run's batches). Cumulative progress of one batch; repeats are harmless. Do not send by hand.",
  // Handlers the approval flow registers (issue: approve before executing); described here so they
  // are never shown bare.
  plan: 'Query, no input. The plan awaiting approval: what would be deleted per account, and the plan hash to quote when approving.',
  approve:
    'Update. Input: {"planHash": "...", "approver": "..."}. Approves the plan shown by the `plan` query; refused when the hash does not match the current plan.',
  reject:
    'Update. Input: {"reason": "..."}. Rejects the plan: nothing is deleted and the run completes as cancelled.',

  // ---- batch (cleanupBatch) ----
  batchProgress: "Query, no input. This batch's cumulative counts, items in flight and its first problems.",
  batchControl:
    'Signal (internal: sent by the run). Input: {"state": "waiting" | "active" | "paused" | "cancelled"}. Use the run\'s pause / resume / cancel instead.',
  outcomes:
    'Signal (internal: sent by the account lanes). Finished items of this batch. Do not send by hand.',
  returnItems:
    'Signal (internal: sent by an account lane). Queued items the lane gives back unstarted; the batch sends them again later. Do not send by hand.',

  // ---- lane (accountLane) ----
  laneStatus:
    'Query, no input. The account lane: concurrency window, deletions in flight, items queued per batch, circuit breaker state.',
  setConcurrency:
    'Update. Input: {"concurrency": n}, a whole number from 1 to the account\'s configured maxConcurrent. Lowers (or restores) how many deletions this account runs at once, across all runs; applies to new deletions at once.',
  enqueue:
    "Signal (internal: sent by the enqueueToLane activity with signal-with-start). A chunk of a batch's items for this account. Do not send by hand.",
  batchState:
    'Signal (internal: sent by a batch). Input: {"batchWorkflowId": "...", "state": "active" | "paused" | "cancelled"}. Use the run\'s pause / resume / cancel instead.',
};

export const UNDOCUMENTED = 'undocumented handler';

/** The handler options that attach a description: `setHandler(def, fn, described('pause'))`. */
export function described(name: string): { description: string } {
  // Never throws: a missing description must not fail a workflow task; the test catches it instead.
  return {
    description:
      HANDLER_DESCRIPTIONS[name] ?? `${UNDOCUMENTED} (add it to workflows/handler-descriptions.ts)`,
  };
}
