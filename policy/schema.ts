import { z } from 'zod';
import { tryParseDuration } from './duration';

/**
 * The retention policy format. Objects are strict: in a policy that deletes backups a misspelt
 * field ("keepDialy") silently doing nothing is worse than an error, so unknown fields are refused
 * and the error lists the fields that exist.
 */

export const RULE_FIELDS = [
  'keepLast',
  'keepWithin',
  'keepDaily',
  'keepWeekly',
  'keepMonthly',
  'keepYearly',
  'deleteOlderThan',
] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

const POLICY_FIELDS = ['rules', 'minKeep', 'protect', 'groups', 'olderThanVmThreshold'] as const;
const PROTECT_FIELDS = ['ids', 'namePatterns', 'tags'] as const;

const listOf = (fields: readonly string[]): string => fields.join(', ');

/** Error customisation for a strict object: name the unknown keys and the ones that exist. */
function objectErrors(what: string, fields: readonly string[], example: string) {
  return (issue: { code?: string; keys?: readonly string[]; input?: unknown }): string | undefined => {
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue.keys ?? []).map((k) => JSON.stringify(k)).join(', ');
      return `unknown field(s) ${keys}; possible fields: ${listOf(fields)}`;
    }
    if (issue.code === 'invalid_type') {
      return `expected ${what} (an object with fields ${listOf(fields)}), e.g. ${example}`;
    }
    return undefined;
  };
}

const count = (min: number, what: string) =>
  z
    .number({ error: `expected a whole number >= ${min} (${what})` })
    .int({ error: `expected a whole number >= ${min} (${what})` })
    .min(min, { error: `expected a whole number >= ${min} (${what})` });

/** A duration string; the message is the parser's own, which names the value and the format. */
export const durationSchema = z
  .string({ error: 'expected a duration string such as "30d" or "1y6m"' })
  .check((ctx) => {
    const result = tryParseDuration(ctx.value);
    if (!result.ok) ctx.issues.push({ code: 'custom', message: result.message, input: ctx.value });
  });

export const rulesSchema = z
  .strictObject(
    {
      /** Keep the newest N successful backups of each group. */
      keepLast: count(1, 'how many of the newest backups to keep').optional(),
      /** Keep every backup created at or after now - duration. */
      keepWithin: durationSchema.optional(),
      /** Keep the newest successful backup of each of the N most recent UTC days that have one. */
      keepDaily: count(1, 'how many days to keep one backup for').optional(),
      /** Same per ISO week (Monday to Sunday, UTC). */
      keepWeekly: count(1, 'how many ISO weeks to keep one backup for').optional(),
      keepMonthly: count(1, 'how many months to keep one backup for').optional(),
      keepYearly: count(1, 'how many years to keep one backup for').optional(),
      /** Only backups created before now - duration may be deleted at all. */
      deleteOlderThan: durationSchema.optional(),
    },
    { error: objectErrors('the retention rules', RULE_FIELDS, '{"keepDaily": 7, "keepWeekly": 4}') },
  )
  .refine((rules) => RULE_FIELDS.some((field) => rules[field] !== undefined), {
    error: `give at least one rule; possible fields: ${listOf(RULE_FIELDS)} (e.g. {"keepDaily": 7})`,
  });

const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what} (a string)` }).min(1, { error: `${what} must not be empty` });

export const protectSchema = z.strictObject(
  {
    /** Backups whose `id` or `backupId` is listed here are never deleted. */
    ids: z.array(nonEmpty('a backup id')).optional(),
    /** Backups whose name matches one of these globs (`*` any run of characters, `?` one character). */
    namePatterns: z.array(nonEmpty('a name pattern')).optional(),
    /** Backups carrying any of these tags (value is a glob too: "*" means "has the tag"). */
    tags: z.record(z.string(), z.string({ error: 'expected the tag value as a string' })).optional(),
  },
  {
    error: objectErrors(
      'the protection settings',
      PROTECT_FIELDS,
      '{"ids": ["b-1"], "tags": {"legal-hold": "*"}}',
    ),
  },
);

export const retentionPolicySchema = z.strictObject(
  {
    rules: rulesSchema,
    /** Never delete the newest N successful backups of a group, whatever the rules say. */
    minKeep: count(0, 'how many of the newest successful backups of each group are never deleted').default(1),
    protect: protectSchema.optional(),
    /** Only these groups (exact `group` values) are considered; the others are left untouched. */
    groups: z
      .array(nonEmpty('a group id'))
      .min(1, {
        error: 'an empty list would select no group at all; leave "groups" out to select every group',
      })
      .optional(),
    /** Veeam: delete a whole VM when its newest restore point is older than this. */
    olderThanVmThreshold: durationSchema.optional(),
  },
  {
    error: objectErrors('a retention policy', POLICY_FIELDS, '{"rules": {"keepDaily": 7}, "minKeep": 1}'),
  },
);

/** A policy as written (minKeep may be left out). */
export type RetentionPolicyInput = z.input<typeof retentionPolicySchema>;
/** A validated policy (minKeep filled in). */
export type RetentionPolicy = z.output<typeof retentionPolicySchema>;

export type PolicyParseResult = { ok: true; value: RetentionPolicy } | { ok: false; problems: string[] };

/** Validates a policy; each problem is one line naming the field, e.g. `rules.keepDaily: expected ...`. */
export function parseRetentionPolicy(raw: unknown): PolicyParseResult {
  const result = retentionPolicySchema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: describePolicyIssues(result.error) };
}

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(readonly problems: string[]) {
    super(`invalid retention policy: ${problems.join('; ')}`);
  }
}

/** Like parseRetentionPolicy, but throws a `PolicyError` listing every problem. */
export function assertRetentionPolicy(raw: unknown): RetentionPolicy {
  const result = parseRetentionPolicy(raw);
  if (!result.ok) throw new PolicyError(result.problems);
  return result.value;
}

export function describePolicyIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    return path ? `${path}: ${issue.message}` : `policy: ${issue.message}`;
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
