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
import { z } from 'zod';
import { TASK_QUEUE } from '../workflows/ids';
import type { RunSummary } from '../workflows/messages';
import { MAX_ITEMS_PER_PAGE, type CleanupRequest, type CleanupRequestInput } from '../workflows/request';
import { retentionCleanup } from '../workflows/retention-cleanup';
import { describeZodIssues } from '../workflows/validation';
import { InvalidRequestError, validateRequest } from './request-validation';

export const WORKFLOW_TYPE = 'retentionCleanup';

/** Prefix of the workflow IDs of a schedule's runs (Temporal appends `-<nominal time>`). */
export function scheduleWorkflowId(scheduleId: string): string {
  return `retention-cleanup/scheduled/${scheduleId}`;
}

export const OVERLAP_POLICIES = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

const toSdkOverlap = (p: OverlapPolicyName): ScheduleOverlapPolicy =>
  ScheduleOverlapPolicy[p.toUpperCase() as keyof typeof ScheduleOverlapPolicy]!;
const fromSdkOverlap = (p: ScheduleOverlapPolicy): OverlapPolicyName =>
  (p ?? 'SKIP').toLowerCase() as OverlapPolicyName;

// ---- durations ----

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "30m", "24h", "7d", "500ms" or a number of milliseconds → milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = DURATION_RE.exec(v.trim());
  if (!m) throw new Error(`expected a duration like "90s", "30m", "24h" or "7d", got "${v}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** 86_400_000 → "24h"; 5_400_000 → "90m"; the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', UNIT_MS.d],
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
    ['s', UNIT_MS.s],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const durationSchema = z.union(
  [
    z.number().int().positive(),
    z.string().regex(DURATION_RE, { message: 'expected a duration like "90s", "30m", "24h" or "7d"' }),
  ],
  { error: 'expected a duration like "90s", "30m", "24h" or "7d" (or milliseconds)' },
);

// ---- cron ----

const CRON_MACROS = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/;
const CRON_EVERY = /^@every\s+\d+[smhd](\/\d+[smhd])?$/;
const CRON_FIELD = /^[0-9A-Za-z*?,/\-#]+$/;

/** Checks a Temporal cron string's shape (5-7 fields, or @daily-style macros); the server checks the rest. */
export function cronProblem(expr: string): string | undefined {
  const body = expr
    .trim()
    .replace(/^(CRON_TZ|TZ)=\S+\s+/, '')
    .replace(/\s+#.*$/, '')
    .trim();
  if (CRON_MACROS.test(body) || CRON_EVERY.test(body)) return undefined;
  const fields = body.split(/\s+/).filter(Boolean);
  if (fields.length < 5 || fields.length > 7) {
    return `expected 5 fields "minute hour day-of-month month day-of-week" like "0 3 * * *" (or @daily, @hourly...), got ${fields.length}`;
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  return bad ? `field "${bad}" is not a cron field (digits, names, "*", ",", "-", "/")` : undefined;
}

// ---- inputs ----

const SCHEDULE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const scheduleIdSchema = z
  .string({ error: 'expected a schedule ID (a string)' })
  .regex(SCHEDULE_ID_RE, {
    message:
      'schedule IDs use letters, digits, ".", "_" or "-" (1-100 characters, starting with a letter or digit)',
  });

const overlapSchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/-/g, '_') : v),
  z.enum(OVERLAP_POLICIES, { error: `expected one of ${OVERLAP_POLICIES.join(', ')}` }),
);

const createOptionsSchema = z
  .object({
    scheduleId: scheduleIdSchema,
    request: z.unknown(),
    /** Cron expression(s), e.g. "0 3 * * *" (03:00 every day, in `timezone`, default UTC). */
    cron: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** Fixed interval, e.g. "24h"; `offset` shifts it ("24h" + offset "3h" = 03:00 UTC daily). */
    every: durationSchema.optional(),
    offset: durationSchema.optional(),
    timezone: z.string().min(1).optional(),
    jitter: durationSchema.optional(),
    overlap: overlapSchema.default('skip'),
    catchupWindow: durationSchema.default('1h'),
    pauseOnFailure: z.boolean().default(false),
    paused: z.boolean().default(false),
    note: z.string().max(1000).optional(),
    taskQueue: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.cron === undefined && o.every === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cron'],
        message: 'give either cron (e.g. "0 3 * * *") or every (e.g. "24h")',
      });
    }
    if (o.cron !== undefined && o.every !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['every'], message: 'give either cron or every, not both' });
    }
    for (const [i, expr] of (typeof o.cron === 'string' ? [o.cron] : (o.cron ?? [])).entries()) {
      const problem = cronProblem(expr);
      if (problem)
        ctx.addIssue({
          code: 'custom',
          path: typeof o.cron === 'string' ? ['cron'] : ['cron', i],
          message: problem,
        });
    }
    if (o.offset !== undefined && o.every === undefined) {
      ctx.addIssue({ code: 'custom', path: ['offset'], message: 'offset only applies to every' });
    }
    const ms = (v: string | number | undefined) => {
      try {
        return v === undefined ? undefined : parseDuration(v);
      } catch {
        return undefined; // reported by the field's own schema
      }
    };
    if ((ms(o.every) ?? Infinity) < 1000) {
      ctx.addIssue({ code: 'custom', path: ['every'], message: 'at least 1s' });
    }
    if ((ms(o.offset) ?? 0) >= (ms(o.every) ?? Infinity)) {
      ctx.addIssue({ code: 'custom', path: ['offset'], message: 'must be shorter than every' });
    }
    if ((ms(o.catchupWindow) ?? Infinity) < 10_000) {
      ctx.addIssue({ code: 'custom', path: ['catchupWindow'], message: "at least 10s (Temporal's minimum)" });
    }
  });

export interface CreateScheduleOptions {
  scheduleId: string;
  /** The cleanup request every run gets (at most MAX_ITEMS_PER_PAGE items; dryRun defaults to true). */
  request: CleanupRequestInput;
  cron?: string | string[];
  every?: string | number;
  offset?: string | number;
  /** IANA time zone for cron, e.g. "Europe/Berlin". Default UTC. */
  timezone?: string;
  jitter?: string | number;
  /** What happens when a run is due while the previous one still runs. Default "skip". */
  overlap?: OverlapPolicyName | Uppercase<OverlapPolicyName>;
  /** How late a missed run (server down) may still start. Default "1h". */
  catchupWindow?: string | number;
  pauseOnFailure?: boolean;
  paused?: boolean;
  note?: string;
  taskQueue?: string;
}

export interface ValidatedSchedule {
  options: z.output<typeof createOptionsSchema>;
  request: CleanupRequest;
  /** "cron 0 3 * * *" or "every 24h" (+ offset), as shown by list and describe. */
  specText: string;
}

/** Validates schedule options and the request they carry, without contacting Temporal. */
export function validateSchedule(input: CreateScheduleOptions): ValidatedSchedule {
  const parsed = createOptionsSchema.safeParse(input);
  const problems = parsed.success ? [] : describeZodIssues(parsed.error);
  const req = validateRequest(input?.request);
  if (!req.ok) problems.push(...req.problems.map((p) => `request.${p.replace(/^request: /, '')}`));
  else {
    if (req.value.request.itemsToFollow) {
      problems.push(
        'request.itemsToFollow: a scheduled run cannot receive more items; remove itemsToFollow and list the items',
      );
    }
    if (req.value.items.length > MAX_ITEMS_PER_PAGE) {
      problems.push(
        `request.items: a schedule hands its request to every run as the workflow input, so it carries at most ` +
          `${MAX_ITEMS_PER_PAGE} items (this one has ${req.value.items.length}); split it into several schedules`,
      );
    }
  }
  if (problems.length || !parsed.success || !req.ok) throw new InvalidRequestError(problems, 'schedule');
  const o = parsed.data;
  const cron = typeof o.cron === 'string' ? [o.cron] : o.cron;
  const specText = cron
    ? `cron ${cron.join(' | ')}${o.timezone ? ` (${o.timezone})` : ''}`
    : `every ${asGiven(o.every!)}${o.offset !== undefined ? ` offset ${asGiven(o.offset)}` : ''}`;
  const request = { ...req.value.request };
  if (!request.items?.length) delete request.items;
  return { options: o, request, specText };
}

/** A duration as the user wrote it ("24h" stays "24h"); milliseconds are shown in the largest unit. */
const asGiven = (v: string | number) => (typeof v === 'string' ? v.trim() : formatDuration(v));

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

export interface BackfillOptions {
  start: Date | string;
  end: Date | string;
  /** Default: the schedule's own policy. With "skip", runs of a backfill that would overlap are dropped. */
  overlap?: OverlapPolicyName | Uppercase<OverlapPolicyName>;
}

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
        memo: { label: request.label ?? '', startedBy: 'schedule', scheduleId: o.scheduleId },
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

/** Checks a backfill's range and policy without contacting Temporal. */
export function validateBackfill(opts: BackfillOptions): {
  start: Date;
  end: Date;
  overlap?: OverlapPolicyName;
} {
  const problems: string[] = [];
  const start = toDate(opts.start, 'start', problems);
  const end = toDate(opts.end, 'end', problems);
  if (start && end && start >= end) problems.push('end: must be after start');
  let overlap: OverlapPolicyName | undefined;
  try {
    overlap = opts.overlap === undefined ? undefined : parseOverlap(opts.overlap, 'overlap');
  } catch (err) {
    problems.push(...(err instanceof InvalidRequestError ? err.problems : [String(err)]));
  }
  if (problems.length || !start || !end) throw new InvalidRequestError(problems, 'backfill');
  return { start, end, ...(overlap ? { overlap } : {}) };
}

/** A schedule ID is validated before any call: it becomes part of workflow IDs. */
export function checkId(scheduleId: string): string {
  const r = scheduleIdSchema.safeParse(scheduleId);
  if (!r.success)
    throw new InvalidRequestError(
      describeZodIssues(r.error).map((p) => `scheduleId: ${p}`),
      'schedule ID',
    );
  return scheduleId;
}

export function parseOverlap(v: string, field: string): OverlapPolicyName {
  const r = overlapSchema.safeParse(v);
  if (!r.success)
    throw new InvalidRequestError(
      [`${field}: expected one of ${OVERLAP_POLICIES.join(', ')}, got "${v}"`],
      'schedule',
    );
  return r.data;
}

function toDate(v: Date | string, field: string, problems: string[]): Date | undefined {
  const d = v instanceof Date ? v : new Date(v);
  if (typeof v === 'string' && !/^\d{4}-\d{2}-\d{2}/.test(v)) {
    problems.push(`${field}: expected an ISO time like "2026-01-31T03:00:00Z", got "${v}"`);
    return undefined;
  }
  if (Number.isNaN(d.getTime())) {
    problems.push(`${field}: expected an ISO time like "2026-01-31T03:00:00Z", got "${String(v)}"`);
    return undefined;
  }
  return d;
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
