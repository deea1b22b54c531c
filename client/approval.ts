/**
 * The client side of approval (README, "Approving deletions"): read a run's plan, approve it by its
 * hash, or reject it. A refusal (wrong hash, approver not allowed, run not awaiting approval) is an
 * ApprovalRefusedError carrying the run's own reason; nothing changed in the run.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApproveInput, RejectInput, RunPlan } from '../contract/approval';
import { approveUpdate, planQuery, rejectUpdate } from '../contract/messages';

export class ApprovalRefusedError extends Error {
  override readonly name = 'ApprovalRefusedError';
  constructor(
    readonly workflowId: string,
    readonly reason: string,
  ) {
    super(`${workflowId}: refused: ${reason}`);
  }
}

/** The validator's message when the run refused the update; otherwise the error itself. */
function refusal(workflowId: string, err: unknown): unknown {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof Error)
    return new ApprovalRefusedError(workflowId, err.cause.message);
  return err;
}

/** The run's plan; a run still planning (or one that needs no approval) answers with why not. */
export async function getPlan(handle: WorkflowHandle): Promise<RunPlan> {
  try {
    return await handle.query(planQuery);
  } catch (err) {
    throw new Error(`${handle.workflowId}: no plan: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

export async function approve(
  handle: WorkflowHandle,
  input: ApproveInput,
): Promise<{ approved: true; planHash: string }> {
  try {
    return await handle.executeUpdate(approveUpdate, { args: [input] });
  } catch (err) {
    throw refusal(handle.workflowId, err);
  }
}

export async function reject(handle: WorkflowHandle, input: RejectInput): Promise<{ rejected: true }> {
  try {
    return await handle.executeUpdate(rejectUpdate, { args: [input] });
  } catch (err) {
    throw refusal(handle.workflowId, err);
  }
}
