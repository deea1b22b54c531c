/**
 * History events and Temporal Cloud billable actions, counted from the histories of every execution a
 * benchmark phase touched (the run and its continue-as-new chain, its batches, the lanes).
 *
 * Counting rules (after https://docs.temporal.io/cloud/actions):
 *  - workflow started: one per execution (client start, signal-with-start, child start, continue-as-new),
 *    i.e. one per WorkflowExecutionStarted event;
 *  - activity attempts: "activity started or retried" is one action per attempt; the history holds only
 *    the last attempt's ActivityTaskStarted, whose `attempt` field is the number of attempts;
 *  - heartbeats: not in the history, so inferred: a deleteBackup attempt that got its delete accepted
 *    (outcome deleted or failed-by-provider) and every deleteBackups (group) activity records one
 *    heartbeat at once (the SDK sends the first unthrottled) and then at most one per throttle interval
 *    (0.8 x heartbeatTimeout, or the worker's maxHeartbeatThrottleInterval of 2 s if shorter) while it
 *    runs (an upper bound: a group or deletion that heartbeats less often sends fewer);
 *  - timers: TimerStarted (condition timeouts included);
 *  - signals: every WorkflowExecutionSignaled (from clients, signal-with-start and workflows alike);
 *  - search-attribute upserts: UpsertWorkflowSearchAttributes; updates: WorkflowExecutionUpdateAccepted;
 *  - queries: none (the benchmark does not query); memo changes and workflow tasks are not actions.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { MAX_HEARTBEAT_THROTTLE_MS } from '../worker/worker';

const E = temporal.api.enums.v1.EventType;
/** One item per activity, or a group of items started together (activities/deletion/group.ts). */
const DELETION_ACTIVITIES = new Set(['deleteBackup', 'deleteBackups']);

export interface ActionCounts {
  workflowStarts: number;
  activityAttempts: number;
  heartbeats: number;
  timers: number;
  signals: number;
  upserts: number;
  updates: number;
}

export interface HistoryTotals {
  executions: number;
  events: number;
  /** Largest single execution's history. */
  maxEvents: number;
  actions: ActionCounts;
  totalActions: number;
  /** deleteBackup and deleteBackups activities (attempts) and inferred heartbeats alone. */
  deletionActivityAttempts: number;
  deletionHeartbeats: number;
  byType: Record<string, { executions: number; events: number; maxEvents: number }>;
  /** Where the orchestration's actions go: signals by name, timers and activity attempts by workflow type. */
  signalsByName: Record<string, number>;
  timersByWorkflowType: Record<string, number>;
  activityAttemptsByType: Record<string, number>;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
function ms(t: Ts): number {
  if (!t) return 0;
  const s = t.seconds as { toNumber?: () => number } | number | string | undefined;
  const secs = typeof s === 'object' && s?.toNumber ? s.toNumber() : Number(s ?? 0);
  return secs * 1000 + (t.nanos ?? 0) / 1e6;
}

function durationMs(d: Ts): number {
  return ms(d);
}

function payloadJson(p: { data?: Uint8Array | null } | undefined): unknown {
  try {
    return p?.data ? JSON.parse(Buffer.from(p.data).toString('utf8')) : undefined;
  } catch {
    return undefined; // encrypted or binary: no outcome to read
  }
}

/** Counts every execution whose workflow ID passes `include`, on the task queue. */
export async function countHistories(
  client: Client,
  taskQueue: string,
  include: (workflowId: string) => boolean,
  concurrency = 4,
): Promise<HistoryTotals> {
  const found: { workflowId: string; runId: string; type: string }[] = [];
  for await (const e of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
    if (include(e.workflowId)) found.push({ workflowId: e.workflowId, runId: e.runId, type: e.type });
  }
  const totals: HistoryTotals = {
    executions: 0,
    events: 0,
    maxEvents: 0,
    actions: {
      workflowStarts: 0,
      activityAttempts: 0,
      heartbeats: 0,
      timers: 0,
      signals: 0,
      upserts: 0,
      updates: 0,
    },
    totalActions: 0,
    deletionActivityAttempts: 0,
    deletionHeartbeats: 0,
    byType: {},
    signalsByName: {},
    timersByWorkflowType: {},
    activityAttemptsByType: {},
  };
  const one = async (x: { workflowId: string; runId: string; type: string }) => {
    const history = await client.workflow.getHandle(x.workflowId, x.runId).fetchHistory();
    const events = history.events ?? [];
    const scheduled = new Map<string, { type: string; heartbeatTimeoutMs: number }>();
    const started = new Map<string, number>();
    const a = totals.actions;
    for (const ev of events) {
      const id = String(ev.eventId);
      switch (ev.eventType) {
        case E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
          a.workflowStarts++;
          break;
        case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
          const s = ev.activityTaskScheduledEventAttributes;
          scheduled.set(id, {
            type: s?.activityType?.name ?? '',
            heartbeatTimeoutMs: durationMs(s?.heartbeatTimeout as Ts),
          });
          break;
        }
        case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const s = ev.activityTaskStartedEventAttributes;
          const attempts = s?.attempt ?? 1;
          a.activityAttempts += attempts;
          const actType = scheduled.get(String(s?.scheduledEventId))?.type ?? '?';
          totals.activityAttemptsByType[actType] = (totals.activityAttemptsByType[actType] ?? 0) + attempts;
          started.set(String(s?.scheduledEventId), ms(ev.eventTime as Ts));
          if (DELETION_ACTIVITIES.has(actType)) totals.deletionActivityAttempts += attempts;
          break;
        }
        case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          const c = ev.activityTaskCompletedEventAttributes;
          const sch = scheduled.get(String(c?.scheduledEventId));
          if (!sch || !DELETION_ACTIVITIES.has(sch.type)) break;
          const outcome = (payloadJson(c?.result?.payloads?.[0]) as { outcome?: string } | undefined)
            ?.outcome;
          if (sch.type === 'deleteBackup' && outcome !== 'deleted' && outcome !== 'failed') break;
          const ran =
            ms(ev.eventTime as Ts) - (started.get(String(c?.scheduledEventId)) ?? ms(ev.eventTime as Ts));
          const throttle = Math.min(0.8 * (sch.heartbeatTimeoutMs || 30_000), MAX_HEARTBEAT_THROTTLE_MS);
          const hb = 1 + Math.floor(ran / throttle);
          a.heartbeats += hb;
          totals.deletionHeartbeats += hb;
          break;
        }
        case E.EVENT_TYPE_TIMER_STARTED:
          a.timers++;
          totals.timersByWorkflowType[x.type] = (totals.timersByWorkflowType[x.type] ?? 0) + 1;
          break;
        case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
          a.signals++;
          const name = ev.workflowExecutionSignaledEventAttributes?.signalName ?? '?';
          totals.signalsByName[name] = (totals.signalsByName[name] ?? 0) + 1;
          break;
        }
        case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
          a.upserts++;
          break;
        case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
          a.updates++;
          break;
      }
    }
    totals.executions++;
    totals.events += events.length;
    totals.maxEvents = Math.max(totals.maxEvents, events.length);
    const t = (totals.byType[x.type] ??= { executions: 0, events: 0, maxEvents: 0 });
    t.executions++;
    t.events += events.length;
    t.maxEvents = Math.max(t.maxEvents, events.length);
  };
  for (let i = 0; i < found.length; i += concurrency)
    await Promise.all(found.slice(i, i + concurrency).map(one));
  totals.totalActions = Object.values(totals.actions).reduce((n, v) => n + v, 0);
  return totals;
}

/** History sizes from visibility alone (no history fetch): for the big run, where fetching ~1M events is wasteful. */
export async function historyLengths(
  client: Client,
  taskQueue: string,
  include: (workflowId: string) => boolean,
): Promise<{
  executions: number;
  events: number;
  maxEvents: number;
  maxBytes: number;
  continuedAsNew: number;
  byType: Record<string, { executions: number; maxEvents: number }>;
}> {
  const out = {
    executions: 0,
    events: 0,
    maxEvents: 0,
    maxBytes: 0,
    continuedAsNew: 0,
    byType: {} as Record<string, { executions: number; maxEvents: number }>,
  };
  for await (const e of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
    if (!include(e.workflowId)) continue;
    // Visibility's length of a running execution may be stale: ask the execution itself.
    const len =
      e.status.name === 'RUNNING'
        ? (await client.workflow.getHandle(e.workflowId, e.runId).describe()).historyLength
        : (e.historyLength ?? 0);
    out.executions++;
    out.events += len;
    out.maxEvents = Math.max(out.maxEvents, len);
    out.maxBytes = Math.max(out.maxBytes, e.historySize ?? 0);
    if (e.status.name === 'CONTINUED_AS_NEW') out.continuedAsNew++;
    const t = (out.byType[e.type] ??= { executions: 0, maxEvents: 0 });
    t.executions++;
    t.maxEvents = Math.max(t.maxEvents, len);
  }
  return out;
}
