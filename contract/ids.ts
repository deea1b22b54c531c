/**
 * Deterministic workflow-ID builders. Every workflow the product starts derives its ID from here, so
 * the client, the report and the workflows agree on names without storing them.
 */

export const TASK_QUEUE = 'retention-cleanup';

/** The long-lived lane that owns one account's concurrency window across all runs. */
export function laneWorkflowId(account: string): string {
  return `retention-cleanup-lane/${account}`;
}

/** Batch n (0-based) of a run: batches hold the run's items in pages, so no payload grows with the run. */
export function batchWorkflowId(runWorkflowId: string, n: number): string {
  return `${runWorkflowId}/batch-${String(n).padStart(5, '0')}`;
}

/** The run a batch belongs to (its ID up to "/batch-NNNNN"): lanes share their window fairly between runs. */
export function runWorkflowIdOf(batchId: string): string {
  return batchId.replace(/\/batch-\d+$/, '');
}

export function batchNumberOf(batchId: string): number {
  const m = /\/batch-(\d+)$/.exec(batchId);
  if (!m) throw new Error(`not a batch workflow id: ${batchId}`);
  return Number(m[1]);
}
