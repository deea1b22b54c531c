/**
 * Discovery for policy runs: each account is listed and planned ONCE by its planAccount activity,
 * which hands the planned items to the run (addItems) while the run keeps every batch waiting; the
 * run then judges the count guards on exactly what arrived (README, "Guarantees": a policy deletes
 * exactly the plan that passed the guards). Per-account guards that need the listing (fractions of
 * an account or group) are judged by the activity, which emits nothing for an account that crosses
 * one in an executed run.
 *
 * Runs recorded before (patch 'plan-once') planned every account, checked, then listed and planned
 * again to emit: `discoverTwice` keeps that path for them.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { PlanAccountResult } from '../../activities/discover';
import type { Guards } from '../../policy';
import { PLAN_ACCOUNT_RETRY } from '../../contract/retry-rules';
import type { AccountPlanSummary } from '../../contract/messages';
import type { AccountLimits } from '../../contract/model';
import type { CleanupRequest } from '../../contract/request';

/** Listing a large account pages through the provider API; heartbeats show it is alive. */
const { planAccount } = proxyActivities<Activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '2m',
  retry: PLAN_ACCOUNT_RETRY,
});

export interface Discovered {
  plan: AccountPlanSummary[];
  /** Guard violations the accounts' listings showed (fractions); the count guards are the run's. */
  violations: string[];
  /** Deletions each account's plan holds, to compare with what the run received. */
  planned: Map<string, number>;
}

type PolicyRequest = NonNullable<CleanupRequest['policy']>;

function baseInput(workflowId: string, request: CleanupRequest, now: string) {
  const { accounts: _names, ...policy } = request.policy!;
  const { maxFractionPerAccount, maxFractionPerGroup } = request.guards ?? {};
  const local: Guards = {
    ...(maxFractionPerAccount !== undefined ? { maxFractionPerAccount } : {}),
    ...(maxFractionPerGroup !== undefined ? { maxFractionPerGroup } : {}),
  };
  return {
    runWorkflowId: workflowId,
    policy,
    now,
    dryRun: request.dryRun,
    ...(Object.keys(local).length ? { guards: local } : {}),
    // A violation waits for approval instead of failing: the plan must reach the run to be shown.
    ...(request.guards?.onViolation === 'await-approval' ? { emitPastGuards: true } : {}),
  };
}

const summaryOf = (r: PlanAccountResult): AccountPlanSummary => ({
  account: r.account,
  listed: r.listed,
  toDelete: r.toDelete,
  kept: r.kept,
  groups: r.groups,
  // Bytes (issue 19): absent in results recorded before they existed.
  ...(r.toDeleteBytes !== undefined ? { toDeleteBytes: r.toDeleteBytes } : {}),
  ...(r.toDeleteUnsized !== undefined ? { toDeleteUnsized: r.toDeleteUnsized } : {}),
});

/** Plans and emits every account once, in parallel. */
export async function discover(
  workflowId: string,
  request: CleanupRequest,
  limitsOf: (account: string) => AccountLimits,
): Promise<Discovered> {
  const names = (request.policy as PolicyRequest).accounts;
  const base = baseInput(workflowId, request, new Date().toISOString());
  const results = await Promise.all(names.map((a) => planAccount({ ...base, limits: limitsOf(a) })));
  return {
    plan: results.map(summaryOf),
    violations: results.flatMap((r) => r.violations.map((v) => v.message)),
    planned: new Map(results.map((r) => [r.account, r.toDelete])),
  };
}

/** The path of runs recorded before 'plan-once': plan all, check every guard, then plan and emit again. */
export async function discoverTwice(
  workflowId: string,
  request: CleanupRequest,
  limitsOf: (account: string) => AccountLimits,
): Promise<Discovered> {
  const names = (request.policy as PolicyRequest).accounts;
  const now = new Date().toISOString();
  const guards = request.guards;
  const base = {
    runWorkflowId: workflowId,
    policy: baseInput(workflowId, request, now).policy,
    now,
    dryRun: request.dryRun,
    ...(guards ? { guards } : {}),
  };
  const planned = await Promise.all(
    names.map((a) => planAccount({ ...base, limits: limitsOf(a), emit: false })),
  );
  const violations = planned.flatMap((r) => r.violations.map((v) => v.message));
  const toDelete = planned.reduce((n, r) => n + r.toDelete, 0);
  if (guards?.maxDeletions !== undefined && toDelete > guards.maxDeletions) {
    violations.unshift(
      `maxDeletions: the plan would delete ${toDelete} backups over all accounts (limit ${guards.maxDeletions}); ${toDelete - guards.maxDeletions} over`,
    );
  }
  if (violations.length && !request.dryRun) throw guardViolation(violations);
  for (const a of names) await planAccount({ ...base, limits: limitsOf(a), emit: true });
  return { plan: planned.map(summaryOf), violations, planned: new Map() };
}

export function guardViolation(violations: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'GuardViolation',
    nonRetryable: true,
    message: `stopped before deleting anything: ${violations.join('; ')}`,
    details: violations,
  });
}
