/**
 * Notifications (issue 14, item 6): the events a run raises and what the workflow hands the
 * `sendNotification` activity. Pure and shared by the workflows and the worker: no URL, no endpoint and
 * no credential is ever part of these shapes (README "Guarantees": secrets stay out of Temporal); the
 * worker picks the endpoints from its own config.
 */
import type { OutcomeCounts } from './model';

export const RUN_EVENT_NAMES = [
  'awaiting-approval',
  'guard-violation',
  'circuit-open',
  'run-finished',
  'run-problems',
] as const;

export type RunEventName = (typeof RUN_EVENT_NAMES)[number];

/** What a workflow knows about an event; becomes the JSON payload (plus webUiUrl) or the Slack text. */
export interface RunEvent {
  event: RunEventName;
  workflowId: string;
  label: string;
  /** Only for a dry run (nothing was deleted; its counts are what it would have done). */
  dryRun?: true;
  /** Outcome counts so far (run events); absent for an account's lane (circuit-open). */
  counts?: OutcomeCounts;
  planHash?: string;
  /** circuit-open: the account whose circuit opened, why, and the runs waiting on it. */
  account?: string;
  reason?: string;
  runs?: string[];
  /** ISO time the workflow raised it. */
  at: string;
}

/** What sendNotification answers: counts only (never where it sent). */
export interface NotificationResult {
  matched: number;
  delivered: number;
  failed: number;
}

/** The Web UI's summary of a sendNotification activity (the workflow never knows where it goes). */
export function notifySummary(e: Pick<RunEvent, 'event' | 'account'>): string {
  return `notify ${e.event}${e.account ? ` for account ${e.account}` : ''}`;
}
