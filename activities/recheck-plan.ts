/**
 * After approval, a policy run lists each account again before its first deletion and keeps only the
 * approved items the same rules would still delete (README, "Approving deletions"): an approved item
 * that is now protected, now needed for minKeep, or otherwise no longer planned for deletion is named
 * here, and the run skips it ("plan changed since approval"). Backups that newly qualify are not
 * returned at all: the run deletes exactly the approved set or less, never more.
 */
import { Context } from '@temporalio/activity';
import { planRetention, type RetentionPolicyInput } from '../policy';
import { itemKey, type AccountLimits } from '../contract/model';
import type { ProviderAdapter } from './providers/adapter';
import { listAll } from './listing';

export interface RecheckPlanInput {
  limits: AccountLimits;
  policy: RetentionPolicyInput;
  /** The approval's time: the rules are applied as of now, not as of the original plan. */
  now: string;
  /** The approved deletions of this account (item keys as the run has them). */
  approved: { key: string; id: string; checkpointId?: string }[];
}

export interface RecheckPlanResult {
  account: string;
  /** Keys of approved items the rules would no longer delete. */
  changed: string[];
}

export async function recheckPlanWith(
  adapter: ProviderAdapter,
  input: RecheckPlanInput,
): Promise<RecheckPlanResult> {
  const ctx = Context.current();
  const records = await listAll(adapter, input.limits, (pages) => ctx.heartbeat({ listedPages: pages }));
  const plan = planRetention(records, input.policy, input.now);
  const stillDeleted = new Set(plan.deletions.map((d) => itemKey({ ...d, account: input.limits.name })));
  const changed = input.approved
    .filter(
      (a) =>
        !stillDeleted.has(itemKey({ account: input.limits.name, id: a.id, checkpointId: a.checkpointId })),
    )
    .map((a) => a.key);
  return { account: input.limits.name, changed };
}
