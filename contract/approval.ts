/**
 * The request's `approval` field and the approval messages (issue 14: plan, approve, apply). A run
 * that needs approval plans, then waits with nothing sent to any provider until a person approves
 * that exact plan (by its hash) or rejects it (README, "Approving deletions").
 */
import { z } from 'zod';
import { durationMs } from './duration';

/** Longest wait for an approval: a plan older than this describes backups that have long changed. */
const MAX_TIMEOUT_MS = 30 * 86_400_000;
/** How long a run waits for a decision when the request names no timeout. */
export const DEFAULT_APPROVAL_TIMEOUT = '24h';

/** Milliseconds of an approval timeout such as "24h"; NaN when it is not one. */
export function approvalTimeoutMs(text: string): number {
  return durationMs(text, ['s', 'm', 'h', 'd', 'w']);
}

/** Longest approver name and comment or reason: they go into the run's memo, every skipped item and the report header. */
export const MAX_APPROVER_CHARS = 100;
export const MAX_APPROVAL_TEXT_CHARS = 1000;

const approverName = z
  .string({ error: 'expected an approver name (a string), like "alice"' })
  .min(1, { message: 'an approver name must not be empty' })
  .max(MAX_APPROVER_CHARS, { message: `an approver name has at most ${MAX_APPROVER_CHARS} characters` });

export const approvalSchema = z
  .object({
    /** The run waits for approval of its plan before deleting anything. */
    required: z.boolean({ error: 'expected true or false' }),
    /** How long the run waits for a decision; then every item ends skipped ("approval timed out"). */
    timeout: z
      .string({ error: 'expected a duration like "24h", "30m", "7d" (s, m = minutes, h, d, w)' })
      .refine((v) => approvalTimeoutMs(v) > 0 && approvalTimeoutMs(v) <= MAX_TIMEOUT_MS, {
        message:
          'expected a duration like "24h", "30m" or "7d" (units s, m = minutes, h, d, w), above zero and at most 30d',
      })
      .optional(),
    /** Only these people may approve or reject; absent = anyone who can send the update. */
    approvers: z
      .array(approverName, { error: 'expected a list of approver names, like ["alice", "bob"]' })
      .min(1, { message: 'name at least one approver, or leave "approvers" out to let anyone approve' })
      .optional(),
  })
  .strict();

export type ApprovalRequest = z.output<typeof approvalSchema>;

/** Input of the `approve` update. */
export interface ApproveInput {
  planHash: string;
  approver: string;
  comment?: string;
}

/** Input of the `reject` update. */
export interface RejectInput {
  approver: string;
  reason: string;
}

/** The run's memo key `approval` once approved (the report's header reads it). */
export interface ApprovalRecord {
  approver: string;
  comment?: string;
  at: string;
  planHash: string;
}

/** One account's part of the plan, as the `plan` query shows it. */
export interface PlanAccount {
  account: string;
  provider: string;
  toDelete: number;
  kept?: number;
  listed?: number;
  toDeleteBytes?: number;
}

/** What the `plan` query returns. */
export interface RunPlan {
  /** sha256 over the sorted exact (account, id) set to delete and the request: what `approve` names. */
  planHash: string;
  toDelete: number;
  accounts: PlanAccount[];
  guardViolations: string[];
  /** Whether the run waits for approval now, and the decision once made. */
  approval: {
    required: boolean;
    state: 'not-required' | 'planning' | 'awaiting' | 'approved' | 'rejected' | 'timed-out';
    approvers?: string[];
    deadline?: string;
    decidedBy?: string;
  };
  /** The (account, id) set itself, when it is small enough to show (at most PLAN_ITEMS_SHOWN). */
  items?: { account: string; id: string; checkpointId?: string }[];
}

/** Above this many deletions the `plan` query leaves `items` out (its payload stays small). */
export const PLAN_ITEMS_SHOWN = 1000;

/**
 * Most deletions one run can hold for approval: a waiting run keeps every (account, id) of its plan in
 * its state (about 150 bytes each), and a continue-as-new carries them; far more would pass Temporal's
 * 2 MB payload limit and leave the run unable to continue. Beyond it the run stops before any deletion
 * and says to split the request.
 */
export const MAX_APPROVAL_DELETIONS = 20_000;
