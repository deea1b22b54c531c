/**
 * The options of a schedule and of a backfill, checked without contacting Temporal: durations, cron
 * strings, schedule IDs, overlap policies, and the cleanup request a schedule carries (at most
 * MAX_ITEMS_PER_PAGE items: a schedule hands it to every run as the workflow input). Used by
 * RetentionSchedules (client/schedules.ts) and by the CLI before it connects.
 */
import { z } from 'zod';
import { DURATION_UNIT_MS, durationMs } from '../contract/duration';
import { MAX_ITEMS_PER_PAGE, type CleanupRequest, type CleanupRequestInput } from '../contract/request';
import { describeZodIssues } from '../contract/validation';
import { InvalidRequestError, validateRequest } from './request-validation';

export const OVERLAP_POLICIES = [
  'skip',
  'buffer_one',
  'buffer_all',
  'cancel_other',
  'terminate_other',
  'allow_all',
] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

// ---- durations ----

/** Schedule durations: "500ms" to "7d" (contract/duration.ts). */
const SCHEDULE_UNITS = ['ms', 's', 'm', 'h', 'd'] as const;

/** "90s", "30m", "24h", "7d", "500ms" or a number of milliseconds → milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v;
  const ms = durationMs(v.trim(), SCHEDULE_UNITS);
  if (Number.isNaN(ms)) throw new Error(`expected a duration like "90s", "30m", "24h" or "7d", got "${v}"`);
  return ms;
}

/** 86_400_000 → "24h"; 5_400_000 → "90m"; the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', DURATION_UNIT_MS.d],
    ['h', DURATION_UNIT_MS.h],
    ['m', DURATION_UNIT_MS.m],
    ['s', DURATION_UNIT_MS.s],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const durationSchema = z.union(
  [
    z.number().int().positive(),
    z.string().refine((v) => !Number.isNaN(durationMs(v, SCHEDULE_UNITS)), {
      message: 'expected a duration like "90s", "30m", "24h" or "7d"',
    }),
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
    requireApproval: z.boolean({ error: 'expected true or false' }).optional(),
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
  /**
   * Every run waits for a person to approve its plan (sets the request's `approval.required`; its
   * `timeout` and `approvers` stay as the request gives them). README, "Approving deletions".
   */
  requireApproval?: boolean;
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
  if (o.requireApproval) request.approval = { ...request.approval, required: true };
  return { options: o, request, specText };
}

/** A duration as the user wrote it ("24h" stays "24h"); milliseconds are shown in the largest unit. */
const asGiven = (v: string | number) => (typeof v === 'string' ? v.trim() : formatDuration(v));

export interface BackfillOptions {
  start: Date | string;
  end: Date | string;
  /** Default: the schedule's own policy. With "skip", runs of a backfill that would overlap are dropped. */
  overlap?: OverlapPolicyName | Uppercase<OverlapPolicyName>;
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
