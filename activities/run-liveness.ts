/**
 * Is the run that asked for a deletion still running? Checked by the activities before anything is
 * sent to a provider (README, "Guarantees": Temporal's own controls stop deletions): a run terminated or
 * reset from the Web UI or `temporal` runs no code, so its batches and lanes cannot be told; they find
 * out here, before the next chunk is queued and before the next delete request goes out.
 *
 * One DescribeWorkflowExecution per run per worker process every CACHE_MS at most (not a billed
 * Temporal action). A run that continued-as-new is running: describe without a run id answers for the
 * latest execution of the chain.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** How long one answer is reused. A terminate is noticed within this long. */
export const RUN_LIVENESS_CACHE_MS = 1_000;

export class RunLiveness {
  private readonly cache = new Map<string, { at: number; answer: Promise<string | undefined> }>();

  constructor(
    private readonly client: Client,
    private readonly now: () => number = Date.now,
  ) {}

  /** undefined while the run is running; else why it is not (its status, e.g. "TERMINATED"). */
  async stopped(runWorkflowId: string): Promise<string | undefined> {
    const hit = this.cache.get(runWorkflowId);
    if (hit && this.now() - hit.at < RUN_LIVENESS_CACHE_MS) return hit.answer;
    const answer = this.describe(runWorkflowId);
    this.cache.set(runWorkflowId, { at: this.now(), answer });
    // A failed describe is not remembered: the next caller asks again.
    answer.catch(() => this.cache.delete(runWorkflowId));
    if (this.cache.size > 1_000) this.cache.delete(this.cache.keys().next().value!);
    return answer;
  }

  private async describe(runWorkflowId: string): Promise<string | undefined> {
    try {
      const d = await this.client.workflow.getHandle(runWorkflowId).describe();
      return d.status.name === 'RUNNING' ? undefined : d.status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
      throw err;
    }
  }
}

/** The outcome reason of an item not requested because its run stopped. */
export function runStoppedReason(runWorkflowId: string, status: string): string {
  return `not deleted: run ${runWorkflowId} is ${status} (stopped from outside, e.g. terminated or reset) before this item was requested`;
}
