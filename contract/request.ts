import { z } from 'zod';
import { guardsSchema, retentionPolicySchema } from '../policy';
import { describeZodIssues } from './validation';
import { approvalSchema } from './approval';

/** Account names become part of workflow IDs, so they are kept to a safe character set. */
export const accountNameSchema = z
  .string({ error: 'expected an account name (a string) from the worker config' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message:
      'account names use letters, digits, ".", "_" or "-" (1-63 characters, starting with a letter or digit)',
  });

const providerIdSchema = z
  .string({ error: "expected the provider's backup id as a string" })
  .min(1, { message: 'must not be empty' })
  .max(200, { message: 'at most 200 characters' })
  .regex(/^[^/?#\s]+$/, { message: 'must not contain "/", "?", "#" or white space' });

export const itemRefSchema = z
  .object({
    account: accountNameSchema,
    id: providerIdSchema,
    checkpointId: providerIdSchema.optional(),
    sizeBytes: z
      .number({ message: 'expected the size in bytes, a number like 1073741824' })
      .nonnegative({ message: 'expected the size in bytes, 0 or more' })
      .optional(),
    group: z.string().max(200).optional(),
    plan: z.string().max(300).optional(),
  })
  .strict();

/** A retention policy applied to the named accounts' listings (see docs/policies.md). */
export const policyRequestSchema = retentionPolicySchema.extend({
  accounts: z
    .array(accountNameSchema, { error: 'expected a list of account names from the worker config' })
    .min(1, { message: 'name at least one account to apply the policy to' }),
});

/** Most items one request (or one addItems page) may carry: keeps every payload far below 256 KB. */
export const MAX_ITEMS_PER_PAGE = 1000;

export const itemPageSchema = z.array(itemRefSchema).max(MAX_ITEMS_PER_PAGE, {
  message: `at most ${MAX_ITEMS_PER_PAGE} items per request; send more with the client's start() (it pages them) or the addItems update`,
});

export const cleanupRequestSchema = z
  .object({
    /** Explicit backups to delete. */
    items: itemPageSchema.optional(),
    /** More items will arrive through the `addItems` update; the run waits for `sealItems`. */
    itemsToFollow: z.boolean().optional(),
    /** Instead of items: list the accounts' backups and delete what the policy does not keep. */
    policy: policyRequestSchema.optional(),
    /** Limits checked before anything is deleted; a run that would cross one stops. */
    guards: guardsSchema.optional(),
    /** Nothing is deleted unless this is explicitly false (README, "Guarantees": nothing deleted unless asked). */
    dryRun: z.boolean({ error: 'expected true or false' }).default(true),
    /**
     * Wait for a person to approve the exact plan before deleting anything (README, "Approving
     * deletions"); default: not required.
     */
    approval: approvalSchema.optional(),
    /** Free text shown in the Web UI memo and reports. */
    label: z.string().max(200).optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    if (!req.policy) {
      // A share of what exists needs the account's listing, which only policy runs make.
      for (const guard of ['maxFractionPerAccount', 'maxFractionPerGroup'] as const)
        if (req.guards?.[guard] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['guards', guard],
            message: `needs a listing of the accounts, which only a policy run makes; remove it, or limit an item list with maxDeletions / maxDeletionsPerAccount`,
          });
    }
    if (req.policy && (req.items?.length || req.itemsToFollow)) {
      ctx.addIssue({ code: 'custom', path: ['policy'], message: 'give either items or a policy, not both' });
    } else if (!req.policy && !req.items?.length && !req.itemsToFollow) {
      ctx.addIssue({
        code: 'custom',
        path: ['items'],
        message:
          'give at least one item ({"account": "...", "id": "..."}), a policy, or set itemsToFollow: true',
      });
    }
  });

export type CleanupRequestInput = z.input<typeof cleanupRequestSchema>;
export type CleanupRequest = z.output<typeof cleanupRequestSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export function parseCleanupRequest(raw: unknown): ParseResult<CleanupRequest> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      ok: false,
      problems: ['request: expected one JSON object like {"items": [...], "dryRun": true}'],
    };
  }
  const result = cleanupRequestSchema.safeParse(raw);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, problems: describeZodIssues(result.error) };
}

export function parseItemPage(raw: unknown): ParseResult<z.output<typeof itemPageSchema>> {
  const result = itemPageSchema.safeParse(raw);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, problems: describeZodIssues(result.error) };
}
