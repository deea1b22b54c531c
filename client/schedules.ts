/**
 * Temporal Schedules that start `retentionCleanup` runs: typed helpers shared by the CLI
 * (`retention-cleanup schedule ...`) and the programmatic client (`rc.schedules`).
 *
 * - The request is validated (with the schedule's options) before Temporal is contacted, and copied
 *   into the schedule: every scheduled run gets it as its one input object. A schedule therefore
 *   carries at most MAX_ITEMS_PER_PAGE items (the client's paging is not available to the server).
 * - Runs get workflow IDs derived from the schedule ID: `retention-cleanup/scheduled/<scheduleId>`,
 *   to which Temporal appends the nominal time (`...-2026-01-02T03:00:00Z`); their batches follow
 *   as `<run id>/batch-00000`.
 * - Overlap policy SKIP by default (a new run does not start while the previous one is still going),
 *   catch-up window 1 hour.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleSpec,
  type ScheduleSummary,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { TASK_QUEUE } from '../contract/ids';
import { REQUEST_HASH_MEMO_KEY, requestHash } from './request-hash';
import type { RunSummary } from '../contract/messages';
import type { CleanupRequest } from '../contract/request';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { runDetails, runSummary } from '../contract/user-metadata';
import {
  checkId,
  formatDuration,
  parseDuration,
  parseOverlap,
  validateBackfill,
  validateSchedule,
  type BackfillOptions,
  type CreateScheduleOptions,
  type OverlapPolicyName,
} from './schedule-options';

// The options' checks live in schedule-options.ts; importers of this module keep finding them here.
export {
  OVERLAP_POLICIES,
  checkId,
  cronProblem,
  formatDuration,
  parseDuration,
  parseOverlap,
  scheduleIdSchema,
  validateBackfill,
  validateSchedule,
  type BackfillOptions,
  type CreateScheduleOptions,
  type OverlapPolicyName,
  type ValidatedSchedule,
} from './schedule-options';

export const WORKFLOW_TYPE = 'retentionCleanup';

/** Prefix of the workflow IDs of a schedule's runs (Temporal appends `-<nominal time>`). */
export function scheduleWorkflowId(scheduleId: string): string {
  return `retention-cleanup/scheduled/${scheduleId}`;
}

const toSdkOverlap = (p: OverlapPolicyName): ScheduleOverlapPolicy =>
  ScheduleOverlapPolicy[p.toUpperCase() as keyof typeof ScheduleOverlapPolicy]!;
const fromSdkOverlap = (p: ScheduleOverlapPolicy): OverlapPolicyName =>
  (p ?? 'SKIP').toLowerCase() as OverlapPolicyName;

// ---- outputs ----

export interface ScheduleRunRef {
  workflowId: string;
  /** First run ID of the started workflow (later ones after continue-as-new). */
  runId: string;
  scheduledAt: string;
  takenAt: string;
}

export interface ScheduleInfo {
  scheduleId: string;
  /** The runs' workflow IDs start with this (then `-<nominal time>`). */
  workflowIdPrefix: string;
  paused: boolean;
  note?: string;
  spec: string;
  overlap: OverlapPolicyName;
  catchupWindow: string;
  pauseOnFailure: boolean;
  taskQueue: string;
  dryRun: boolean;
  label?: string;
  items: number;
  nextRuns: string[];
  recentRuns: ScheduleRunRef[];
  runningWorkflowIds: string[];
  actionsTaken: number;
  skippedOverlap: number;
  missedCatchupWindow: number;
  createdAt: string;
}

export interface ScheduleListEntry {
  scheduleId: string;
  paused: boolean;
  note?: string;
  spec: string;
  dryRun?: boolean;
  label?: string;
  items?: number;
  nextRun?: string;
  lastRun?: ScheduleRunRef;
}

export interface ScheduledRun {
  workflowId: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  startTime: string;
  closeTime?: string;
}

/** What the schedule's memo records, so list and describe can show the spec as it was given. */
interface ScheduleMemo {
  spec: string;
  dryRun: boolean;
  label?: string;
  items: number;
}
const MEMO_KEY = 'retentionCleanup';

export class RetentionSchedules {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Validates, then creates the schedule. Throws InvalidRequestError before any call to Temporal. */
  async create(input: CreateScheduleOptions): Promise<ScheduleInfo> {
    const { options: o, request, specText } = validateSchedule(input);
    const spec: ScheduleSpec = o.cron
      ? { cronExpressions: typeof o.cron === 'string' ? [o.cron] : o.cron }
      : {
          intervals: [
            {
              every: parseDuration(o.every!),
              ...(o.offset !== undefined ? { offset: parseDuration(o.offset) } : {}),
            },
          ],
        };
    if (o.timezone) spec.timezone = o.timezone;
    if (o.jitter !== undefined) spec.jitter = parseDuration(o.jitter);
    const memo: ScheduleMemo = {
      spec: specText,
      dryRun: request.dryRun,
      ...(request.label ? { label: request.label } : {}),
      items: request.items?.length ?? 0,
    };
    await this.client.schedule.create({
      scheduleId: o.scheduleId,
      spec,
      action: {
        type: 'startWorkflow',
        workflowType: retentionCleanup,
        workflowId: scheduleWorkflowId(o.scheduleId),
        taskQueue: o.taskQueue ?? this.taskQueue,
        args: [request],
        memo: {
          label: request.label ?? '',
          startedBy: 'schedule',
          scheduleId: o.scheduleId,
          [REQUEST_HASH_MEMO_KEY]: requestHash(request),
        },
        // Every run the schedule starts carries them (Web UI, `temporal workflow describe`).
        staticSummary: runSummary(request),
        staticDetails: runDetails(request, { startedBy: `schedule ${o.scheduleId} (${specText})` }),
      },
      policies: {
        overlap: toSdkOverlap(o.overlap),
        catchupWindow: parseDuration(o.catchupWindow),
        pauseOnFailure: o.pauseOnFailure,
      },
      memo: { [MEMO_KEY]: memo },
      state: {
        paused: o.paused,
        note:
          o.note ??
          `retention-cleanup ${request.dryRun ? 'dry run' : 'EXECUTE'}${request.label ? `: ${request.label}` : ''}`,
      },
    });
    return this.describe(o.scheduleId);
  }

  /** The retention-cleanup schedules of the namespace (listing is eventually consistent: a new one shows within seconds). */
  async list(): Promise<ScheduleListEntry[]> {
    const out: ScheduleListEntry[] = [];
    for await (const s of this.client.schedule.list()) {
      if (s.action?.workflowType !== WORKFLOW_TYPE) continue;
      out.push(listEntry(s));
    }
    return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  }

  async describe(scheduleId: string): Promise<ScheduleInfo> {
    const id = checkId(scheduleId);
    return scheduleInfo(await this.client.schedule.getHandle(id).describe());
  }

  async pause(scheduleId: string, note?: string): Promise<void> {
    await this.client.schedule.getHandle(checkId(scheduleId)).pause(note ?? 'paused with retention-cleanup');
  }

  async unpause(scheduleId: string, note?: string): Promise<void> {
    await this.client.schedule
      .getHandle(checkId(scheduleId))
      .unpause(note ?? 'unpaused with retention-cleanup');
  }

  /**
   * Starts a run now. Uses the schedule's overlap policy unless one is given (the SDK's default for a
   * trigger would be allow_all, which could run two cleanups of the same items side by side).
   * With `waitMs`, waits that long for the run to appear and returns its workflow ID; `undefined`
   * when none appeared (e.g. skipped because the previous run still runs under "skip").
   */
  async trigger(
    scheduleId: string,
    opts: { overlap?: OverlapPolicyName | Uppercase<OverlapPolicyName>; waitMs?: number } = {},
  ): Promise<{ workflowId?: string }> {
    const id = checkId(scheduleId);
    const overlap = opts.overlap === undefined ? undefined : parseOverlap(opts.overlap, 'overlap');
    const handle = this.client.schedule.getHandle(id);
    const before = await handle.describe();
    const known = new Set(before.info.recentActions.map((a) => a.action.workflow.workflowId));
    await handle.trigger(overlap ? toSdkOverlap(overlap) : before.policies.overlap);
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      if (Date.now() >= deadline) return {};
      await sleep(250);
      const d = await handle.describe();
      const fresh = d.info.recentActions.find((a) => !known.has(a.action.workflow.workflowId));
      if (fresh) return { workflowId: fresh.action.workflow.workflowId };
    }
  }

  /** Takes the actions the schedule would have taken between start and end (e.g. after an outage). */
  async backfill(scheduleId: string, opts: BackfillOptions): Promise<void> {
    const id = checkId(scheduleId);
    const { start, end, overlap } = validateBackfill(opts);
    await this.client.schedule
      .getHandle(id)
      .backfill({ start, end, ...(overlap ? { overlap: toSdkOverlap(overlap) } : {}) });
  }

  async delete(scheduleId: string): Promise<void> {
    await this.client.schedule.getHandle(checkId(scheduleId)).delete();
  }

  /**
   * The runs a schedule started, newest first, from Temporal's visibility store (eventually
   * consistent; `TemporalScheduledById` is set by the server on every scheduled start).
   */
  async runs(scheduleId: string, opts: { limit?: number } = {}): Promise<ScheduledRun[]> {
    const id = checkId(scheduleId);
    const out: ScheduledRun[] = [];
    const limit = opts.limit ?? 20;
    for await (const w of this.client.workflow.list({
      query: `TemporalScheduledById = "${id}"`,
      pageSize: limit,
    })) {
      out.push({
        workflowId: w.workflowId,
        runId: w.runId,
        status: w.status.name,
        startTime: w.startTime.toISOString(),
        ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
      });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The summary of a scheduled run (waits for it to finish). */
  async runResult(workflowId: string): Promise<RunSummary> {
    return this.client.workflow.getHandle<typeof retentionCleanup>(workflowId).result();
  }
}

function memoOf(memo: Record<string, unknown> | undefined): Partial<ScheduleMemo> {
  const m = memo?.[MEMO_KEY];
  return m && typeof m === 'object' ? (m as Partial<ScheduleMemo>) : {};
}

function runRef(a: ScheduleDescription['info']['recentActions'][number]): ScheduleRunRef {
  return {
    workflowId: a.action.workflow.workflowId,
    runId: a.action.workflow.firstExecutionRunId,
    scheduledAt: a.scheduledAt.toISOString(),
    takenAt: a.takenAt.toISOString(),
  };
}

/** Spec text when the memo lacks it (a schedule created by other tools). */
function specFallback(spec: ScheduleDescription['spec'] | undefined): string {
  const parts: string[] = [];
  for (const i of spec?.intervals ?? []) {
    parts.push(`every ${formatDuration(i.every)}${i.offset ? ` offset ${formatDuration(i.offset)}` : ''}`);
  }
  if (spec?.calendars?.length) parts.push(`${spec.calendars.length} calendar spec(s)`);
  return parts.join(' | ') || 'no spec (trigger only)';
}

function scheduleInfo(d: ScheduleDescription): ScheduleInfo {
  const memo = memoOf(d.memo);
  const req = (d.action.args?.[0] ?? {}) as Partial<CleanupRequest>;
  return {
    scheduleId: d.scheduleId,
    workflowIdPrefix: d.action.workflowId ?? scheduleWorkflowId(d.scheduleId),
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    spec: memo.spec ?? specFallback(d.spec),
    overlap: fromSdkOverlap(d.policies.overlap),
    catchupWindow: formatDuration(d.policies.catchupWindow),
    pauseOnFailure: d.policies.pauseOnFailure,
    taskQueue: d.action.taskQueue,
    // The workflow's default is a dry run: only an explicit false deletes.
    dryRun: req.dryRun !== false,
    ...(req.label ? { label: req.label } : {}),
    items: Array.isArray(req.items) ? req.items.length : 0,
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map(runRef),
    runningWorkflowIds: d.info.runningActions.map((a) => a.workflow.workflowId),
    actionsTaken: d.info.numActionsTaken,
    skippedOverlap: d.info.numActionsSkippedOverlap,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    createdAt: d.info.createdAt.toISOString(),
  };
}

function listEntry(s: ScheduleSummary): ScheduleListEntry {
  const memo = memoOf(s.memo);
  const last = s.info.recentActions.at(-1);
  return {
    scheduleId: s.scheduleId,
    paused: s.state.paused,
    ...(s.state.note ? { note: s.state.note } : {}),
    spec: memo.spec ?? specFallback(s.spec as ScheduleDescription['spec'] | undefined),
    ...(memo.dryRun !== undefined ? { dryRun: memo.dryRun } : {}),
    ...(memo.label ? { label: memo.label } : {}),
    ...(memo.items !== undefined ? { items: memo.items } : {}),
    ...(s.info.nextActionTimes[0] ? { nextRun: s.info.nextActionTimes[0].toISOString() } : {}),
    ...(last ? { lastRun: runRef(last) } : {}),
  };
}
