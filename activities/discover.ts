/**
 * Discovery for policy runs: list an account's backups through its adapter (paged, paced by the
 * account's requestsPerSecond), plan with the retention policy, check the guards that need the
 * listing (fractions of the account and its groups), and hand the planned items to the run in pages
 * through its addItems update, once (workflows/run/discovery.ts). The run keeps every batch waiting
 * until discovery is over and judges the count guards on what arrived. A retried attempt plans again
 * and resumes at the page recorded in heartbeat details only if the plan is the same (its hash).
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
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
import { addItemsUpdate, type AccountPlanSummary } from '../contract/messages';
import type { AccountLimits, BackupRecord, ItemRef } from '../contract/model';
import { MAX_ITEMS_PER_PAGE } from '../contract/request';
import type { ProviderAdapter } from './providers/adapter';
import { listAll } from './listing';
import { FAILURE } from '../contract/failure-types';
import { totalOfSizes } from '../insight/bytes';

export interface PlanAccountInput {
  runWorkflowId: string;
  limits: AccountLimits;
  policy: RetentionPolicyInput;
  /** The run's "now" (workflow time at start), so every account is planned against the same instant. */
  now: string;
  dryRun: boolean;
  /** The guards judged on the listing (fractions); the count guards are the run's. */
  guards?: Guards;
  /**
   * Runs recorded before plan-once: false = plan and check only, true = plan again and emit. Absent:
   * plan, check and emit once.
   */
  emit?: boolean;
  /**
   * guards.onViolation "await-approval": emit the plan even past a guard; the run waits for a person
   * with the violations in its plan instead of failing.
   */
  emitPastGuards?: boolean;
}

/** The account's plan as the run summary shows it, and what planning it did. */
export interface PlanAccountResult extends AccountPlanSummary {
  /** Guard violations this account's listing shows (maxDeletions is the run's). */
  violations: GuardViolation[];
  emitted: number;
  /** sha256 of the emitted items (what a retried attempt must find again to resume). */
  planHash?: string;
}

/** Heartbeat details of planAccount: which plan it emits and how far it got. */
interface PlanProgress {
  planHash?: string;
  emittedPages?: number;
  listedPages?: number;
}

export async function planAccountWith(
  adapter: ProviderAdapter,
  client: Client,
  input: PlanAccountInput,
): Promise<PlanAccountResult> {
  const ctx = Context.current();
  const saved = ctx.info.heartbeatDetails as PlanProgress | undefined;
  const resumeFrom = saved?.emittedPages ?? 0;
  const records = await listAll(adapter, input.limits, (pages) =>
    ctx.heartbeat({ ...saved, emittedPages: resumeFrom, listedPages: pages }),
  );
  const plan = planRetention(records, input.policy, input.now);
  const { maxDeletions: _runWide, maxDeletionsPerAccount: _counted, ...localGuards } = input.guards ?? {};
  const guard = checkGuards(plan, populationFromRecords(records), groupOfFromRecords(records), localGuards);
  const decisions = plan.groups.flatMap((g) => g.decisions.map((d) => ({ group: g.group, ...d })));
  const sizeOfItem = itemSizes(records);
  const toDeleteSize = totalOfSizes(
    plan.deletions.map((i) => sizeOfItem.get(`${i.checkpointId ?? ''}/${i.id}`)),
  );
  const result: PlanAccountResult = {
    account: input.limits.name,
    listed: records.length,
    toDelete: plan.deletions.length,
    kept: decisions.filter((d) => d.action === 'keep').length,
    groups: plan.groups.length,
    toDeleteBytes: toDeleteSize.bytes,
    toDeleteUnsized: toDeleteSize.unsized,
    violations: guard.ok ? [] : guard.violations,
    emitted: 0,
  };
  // An executed run never emits past a guard; a dry run shows its plan anyway (the run reports the violations).
  if (input.emit === false || (result.violations.length && !input.dryRun && !input.emitPastGuards))
    return result;

  // A dry run reports every decision (what would go and what stays, with the rule); a real run
  // sends only the deletions.
  const ruleOf = new Map(decisions.map((d) => [`${d.record.checkpointId ?? ''}/${d.record.id}`, d]));
  const sizeOfRecord = new Map(records.map((r) => [`${r.checkpointId ?? ''}/${r.backupId}`, r.sizeBytes]));
  const items: ItemRef[] = input.dryRun
    ? decisions.map((d) => ({
        account: input.limits.name,
        id: d.record.id,
        ...(d.record.checkpointId ? { checkpointId: d.record.checkpointId } : {}),
        ...sizeOf(sizeOfRecord.get(`${d.record.checkpointId ?? ''}/${d.record.backupId}`)),
        group: d.group,
        plan: `${d.action}: ${d.rule}`,
      }))
    : plan.deletions.map((i) => {
        const d = ruleOf.get(`${i.checkpointId ?? ''}/${i.id}`);
        return {
          ...i,
          ...sizeOf(sizeOfItem.get(`${i.checkpointId ?? ''}/${i.id}`)),
          ...(d ? { group: d.group, plan: `delete: ${d.rule}` } : {}),
        };
      });
  const planHash = hashOf(items);
  if (resumeFrom > 0 && saved?.planHash && saved.planHash !== planHash) {
    // Pages of the first plan reached the run; the listing changed since. Emitting the new plan would
    // mix two plans: stop, and let the run stop before anything is deleted.
    throw ApplicationFailure.create({
      type: FAILURE.PlanChanged,
      nonRetryable: true,
      message: `account ${input.limits.name}: its listing changed while discovery was handing over its plan (after ${resumeFrom} pages); nothing was deleted — start the run again`,
    });
  }
  const handle = client.workflow.getHandle(input.runWorkflowId);
  let pages = 0;
  for (let offset = 0; offset < items.length; offset += MAX_ITEMS_PER_PAGE, pages++) {
    if (pages < resumeFrom) continue;
    await handle.executeUpdate(addItemsUpdate, {
      args: [{ items: items.slice(offset, offset + MAX_ITEMS_PER_PAGE) }],
      // The same page of the same plan is taken once, however often a retried attempt sends it.
      ...(input.emit === undefined
        ? { updateId: `plan/${input.limits.name}/${planHash.slice(0, 16)}/${pages}` }
        : {}),
    });
    ctx.heartbeat({ planHash, emittedPages: pages + 1 });
  }
  return { ...result, emitted: items.length, planHash };
}

/** The listed size an item carries to its outcome (reports count bytes); absent when unknown. */
const sizeOf = (sizeBytes: number | undefined) => (sizeBytes !== undefined ? { sizeBytes } : {});

/**
 * What deleting each item frees: the sum of its records' listed sizes (a Veeam item is a VM, deleted
 * with all its restore points), undefined when any of them has no size (unknown stays unknown).
 */
function itemSizes(records: readonly BackupRecord[]): Map<string, number | undefined> {
  const sizes = new Map<string, number | undefined>();
  for (const r of records) {
    const key = `${r.checkpointId ?? ''}/${r.id}`;
    const before = sizes.has(key) ? sizes.get(key) : 0;
    sizes.set(key, before === undefined || r.sizeBytes === undefined ? undefined : before + r.sizeBytes);
  }
  return sizes;
}

/** The identity of a plan: every emitted item with its decision, in order. */
function hashOf(items: ItemRef[]): string {
  const h = createHash('sha256');
  for (const i of items) h.update(`${i.checkpointId ?? ''}/${i.id}/${i.group ?? ''}/${i.plan ?? ''}\n`);
  return h.digest('hex');
}
