/**
 * Who decided an outcome that no activity attempt decided, and when (issue 13 item 3, "Say why"):
 * every report line names its decider, e.g. "lane (circuit open: account misconfigured),
 * 2026-12-04T14:20:01.123Z" or "run (cancelled), ...". Outcomes an activity decided already carry
 * "deleteBackup attempt 2, <ISO>" (activities/delete-backup.ts) and keep it. Workflow clock, so
 * replay gives the same text.
 */
import type { ItemOutcome } from '../contract/model';

/** The workflow that decided: an account lane, a batch, or the run (through its batches). */
export type Decider = 'lane' | 'batch' | 'run';

export function withDecider<T extends Omit<ItemOutcome, 'at'>>(
  outcome: T,
  who: Decider,
  why: string,
  at: string = new Date().toISOString(),
): T {
  return outcome.decidedBy ? outcome : { ...outcome, decidedBy: `${who} (${why}), ${at}` };
}
