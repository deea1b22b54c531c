/**
 * Raising run events for notifications (issue 14 item 6; docs/operations.md, "Notifications"). The
 * workflow hands the `sendNotification` activity only the event and its details: which endpoints
 * subscribe, their URLs and their credentials stay in the worker's config (README "Guarantees":
 * secrets stay out of Temporal).
 *
 * Raising never waits for delivery: `raiseEvent` schedules the activity and returns, so a webhook that
 * is slow or down never delays a deletion. What is still being sent is awaited only where a workflow
 * would otherwise drop it, at its end and before continue-as-new (`notificationsSent`), and that wait
 * is bounded by the activity's schedule-to-close (30 s; the activity itself gives up after 25 s and
 * never fails).
 *
 * Module state is per workflow execution (the worker evaluates the bundle's modules afresh for each),
 * so the context and the pending sends belong to the one run or lane that raised them.
 */
import { log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { NotificationActivities } from '../../activities/notify';
import { notifySummary, type RunEvent, type RunEventName } from '../../contract/notifications';
import type { OutcomeCounts } from '../../contract/model';
import { PATCHES } from '../patches';

export type { RunEventName };

/** What the raiser knows of the event beyond its name; every field optional. */
export interface RunEventDetails {
  planHash?: string;
  /** circuit-open: the account, why its circuit opened, and the runs waiting on it. */
  account?: string;
  reason?: string;
  runs?: string[];
}

/** What every event of this workflow carries: the run's label and its counts at the time. */
export interface RunEventContext {
  label?: string;
  dryRun?: boolean;
  counts?: OutcomeCounts;
}

let context: () => RunEventContext = () => ({});
const pending = new Set<Promise<void>>();

const { sendNotification } = proxyActivities<NotificationActivities>({
  // The activity gives up after 25 s on its own (activities/notify.ts, NOTIFY_TIMING); a second
  // attempt only after a worker crash, within the same bound.
  scheduleToCloseTimeout: '30s',
  startToCloseTimeout: '28s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});

/** The run (or lane) says what every event it raises carries; read when an event is raised. */
export function setRunEventContext(provide: () => RunEventContext): void {
  context = provide;
}

/**
 * Schedules the notification of `event` and returns at once (never waits for delivery). Executions
 * recorded before notifications existed replay without it (PATCHES.notifications).
 */
export async function raiseEvent(event: RunEventName, details: RunEventDetails): Promise<void> {
  if (!patched(PATCHES.notifications)) return;
  const c = context();
  const payload: RunEvent = {
    event,
    workflowId: workflowInfo().workflowId,
    label: c.label ?? '',
    ...(c.dryRun ? { dryRun: true as const } : {}),
    ...(c.counts ? { counts: c.counts } : {}),
    ...(details.planHash !== undefined ? { planHash: details.planHash } : {}),
    ...(details.account !== undefined ? { account: details.account } : {}),
    ...(details.reason !== undefined ? { reason: details.reason.slice(0, 1_000) } : {}),
    ...(details.runs ? { runs: details.runs.slice(0, 20) } : {}),
    at: new Date().toISOString(),
  };
  const sent: Promise<void> = sendNotification
    .executeWithOptions({ summary: notifySummary(payload) }, [{ event: payload }])
    .then(() => undefined)
    .catch((err: unknown) => {
      // Only a timeout or a lost worker gets here (the activity never fails): the run goes on.
      log.warn(`notification of event ${event} was not sent`, { event, error: String(err) });
    })
    .finally(() => pending.delete(sent));
  pending.add(sent);
}

/** Resolves once every notification raised so far was handed over or given up on (bounded, see above). */
export async function notificationsSent(): Promise<void> {
  while (pending.size) await Promise.all([...pending]);
}
