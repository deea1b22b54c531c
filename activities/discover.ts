/**
 * Discovery for policy runs: list an account's backups through its adapter (paged, paced by the
 * account's requestsPerSecond), plan with the retention policy, check the per-account and per-group
 * guards, and, when asked, hand the planned items to the run in pages through its addItems update.
 * The plan is deterministic, and the run keeps every batch waiting until discovery is sealed, so a
 * retried emission re-plans the same listing and resumes at the page recorded in heartbeat details.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  checkGuards,
  groupOfFromRecords,
  planRetention,
  populationFromRecords,
  type Guards,
  type GuardViolation,
  type RetentionPolicyInput,
} from '../policy';
import { addItemsUpdate } from '../workflows/messages';
import type { AccountLimits, ItemRef } from '../workflows/model';
import { MAX_ITEMS_PER_PAGE } from '../workflows/request';
import type { ProviderAdapter } from './providers/adapter';
import { listAll } from './listing';

export interface PlanAccountInput {
  runWorkflowId: string;
  limits: AccountLimits;
  policy: RetentionPolicyInput;
  /** The run's "now" (workflow time at start), so every account is planned against the same instant. */
  now: string;
  dryRun: boolean;
  guards?: Guards;
  /** false: plan and check only; true: also send the items to the run. */
  emit: boolean;
}

export interface PlanAccountResult {
  account: string;
  listed: number;
  toDelete: number;
  kept: number;
  groups: number;
  /** Per-account and per-group guard violations (maxDeletions is checked by the run over all accounts). */
  violations: GuardViolation[];
  emitted: number;
}

export async function planAccountWith(
  adapter: ProviderAdapter,
  client: Client,
  input: PlanAccountInput,
): Promise<PlanAccountResult> {
  const ctx = Context.current();
  const resumeFrom = (ctx.info.heartbeatDetails as { emittedPages?: number } | undefined)?.emittedPages ?? 0;
  const records = await listAll(adapter, input.limits, (pages) =>
    ctx.heartbeat({ emittedPages: resumeFrom, listedPages: pages }),
  );
  const plan = planRetention(records, input.policy, input.now);
  const { maxDeletions: _runWide, ...localGuards } = input.guards ?? {};
  const guard = checkGuards(plan, populationFromRecords(records), groupOfFromRecords(records), localGuards);
  const decisions = plan.groups.flatMap((g) => g.decisions.map((d) => ({ group: g.group, ...d })));
  const result: PlanAccountResult = {
    account: input.limits.name,
    listed: records.length,
    toDelete: plan.deletions.length,
    kept: decisions.filter((d) => d.action === 'keep').length,
    groups: plan.groups.length,
    violations: guard.ok ? [] : guard.violations,
    emitted: 0,
  };
  // An executed run never emits past a guard; a dry run shows its plan anyway (the run reports the violations).
  if (!input.emit || (result.violations.length && !input.dryRun)) return result;

  // A dry run reports every decision (what would go and what stays, with the rule); a real run
  // sends only the deletions.
  const ruleOf = new Map(decisions.map((d) => [`${d.record.checkpointId ?? ''}/${d.record.id}`, d]));
  const items: ItemRef[] = input.dryRun
    ? decisions.map((d) => ({
        account: input.limits.name,
        id: d.record.id,
        ...(d.record.checkpointId ? { checkpointId: d.record.checkpointId } : {}),
        group: d.group,
        plan: `${d.action}: ${d.rule}`,
      }))
    : plan.deletions.map((i) => {
        const d = ruleOf.get(`${i.checkpointId ?? ''}/${i.id}`);
        return { ...i, ...(d ? { group: d.group, plan: `delete: ${d.rule}` } : {}) };
      });
  const handle = client.workflow.getHandle(input.runWorkflowId);
  let pages = 0;
  for (let offset = 0; offset < items.length; offset += MAX_ITEMS_PER_PAGE, pages++) {
    if (pages < resumeFrom) continue;
    await handle.executeUpdate(addItemsUpdate, {
      args: [{ items: items.slice(offset, offset + MAX_ITEMS_PER_PAGE) }],
    });
    ctx.heartbeat({ emittedPages: pages + 1 });
  }
  return { ...result, emitted: items.length };
}
