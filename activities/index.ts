/**
 * The activities, built by a factory so tests and the worker inject their dependencies
 * (samples-typescript habit). Workflows import only the type.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { accountLimits, accountOf, type LoadedConfig } from '../worker/config';
import type { accountLane } from '../workflows/account-lane';
import { laneWorkflowId } from '../contract/ids';
import { acceptedSignal, enqueueSignal, type EnqueueRequest } from '../contract/messages';
import { itemKey, type AccountLimits } from '../contract/model';
import { laneDetails, laneSummary } from '../contract/user-metadata';
import type { AcceptanceReport, DeleteBackupInput, DeleteBackupsInput } from './deletion/contract';
import { deleteBackupWith } from './deletion/single';
import { deleteBackupsWith } from './deletion/group';
import { planAccountWith, type PlanAccountInput, type PlanAccountResult } from './discover';
import { isProviderError, toFailure } from './provider-error';
import { recheckPlanWith, type RecheckPlanInput, type RecheckPlanResult } from './recheck-plan';
import type { AdapterRegistry } from './providers/registry';
import { heartbeatRecordedVia } from './heartbeat-recorded';
import { RunLiveness, runStoppedReason } from './run-liveness';
import { FAILURE } from '../contract/failure-types';

export interface ActivityDeps {
  loaded: LoadedConfig;
  adapters: AdapterRegistry;
  client: Client;
  taskQueue: string;
}

/** What enqueueToLane answers: `runStopped` when the batch's run no longer runs (nothing was queued). */
export interface EnqueueResult {
  runStopped?: string;
}

export function createActivities(deps: ActivityDeps) {
  const liveness = new RunLiveness(deps.client);
  const gate = async (run: string) => {
    const status = await liveness.stopped(run);
    return status ? runStoppedReason(run, status) : undefined;
  };
  const recorded = heartbeatRecordedVia(deps.client);
  // The batch keeps the handle of an accepted deletion across a lane terminate (cleanup-batch.ts).
  const report: AcceptanceReport = async (batchWorkflowId, item, handle) =>
    deps.client.workflow
      .getHandle(batchWorkflowId)
      .signal(acceptedSignal, { accepted: [{ key: itemKey(item), handle }] });
  return {
    /** Non-secret limits of the named accounts; unknown names fail at once, listing the known ones. */
    async resolveAccounts({ names }: { names: string[] }): Promise<Record<string, AccountLimits>> {
      const { config } = deps.loaded;
      const accounts = config.accounts;
      const unknown = names.filter((n) => !accountOf(config, n));
      if (unknown.length) {
        throw ApplicationFailure.create({
          type: FAILURE.UnknownAccount,
          nonRetryable: true,
          message: `unknown account(s) ${unknown.map((n) => `"${n}"`).join(', ')}: the worker config defines ${Object.keys(
            accounts,
          )
            .map((n) => `"${n}"`)
            .join(', ')}`,
        });
      }
      return Object.fromEntries(names.map((n) => [n, accountLimits(n, accountOf(config, n)!)]));
    },

    /**
     * Hands a chunk to the account's lane, starting the lane if it is not running (signal-with-start).
     * The limits come from this worker's config, not from the run that started long ago: a lowered
     * maxConcurrent reaches the lane with the next chunk, and no run can push it back up. Nothing is
     * queued for a run that no longer runs (terminated or reset from outside): the batch learns it here.
     */
    async enqueueToLane(req: EnqueueRequest & { runWorkflowId?: string }): Promise<EnqueueResult> {
      const { runWorkflowId, ...chunk } = req;
      const stopped = runWorkflowId ? await liveness.stopped(runWorkflowId) : undefined;
      if (stopped) return { runStopped: stopped };
      const configured = accountOf(deps.loaded.config, req.limits.name);
      const limits = configured ? accountLimits(req.limits.name, configured) : req.limits;
      // By name: activities import only types from workflows/ (the workflow code stays in the bundle).
      await deps.client.workflow.signalWithStart<typeof accountLane, [EnqueueRequest]>('accountLane', {
        workflowId: laneWorkflowId(limits.name),
        taskQueue: deps.taskQueue,
        args: [{ account: limits.name, limits }],
        // Shown only when this call starts the lane (signal-with-start keeps a running lane's own).
        staticSummary: laneSummary(limits),
        staticDetails: laneDetails(limits),
        signal: enqueueSignal,
        signalArgs: [{ ...chunk, limits }],
      });
      return {};
    },

    /** Whether the run still runs (a waiting batch asks now and then; see workflows/cleanup-batch.ts). */
    async checkRun({ runWorkflowId }: { runWorkflowId: string }): Promise<EnqueueResult> {
      const stopped = await liveness.stopped(runWorkflowId);
      return stopped ? { runStopped: stopped } : {};
    },

    async deleteBackup(input: DeleteBackupInput) {
      return deleteBackupWith(adapterOf(input.item.account), input, gate, recorded, report);
    },

    /** Several items of one account started together (the lane's fast path, see deletion/group.ts). */
    async deleteBackups(input: DeleteBackupsInput) {
      return deleteBackupsWith(adapterOf(input.items[0]!.account), input, gate, recorded);
    },

    /** Policy runs: list, plan and check guards for one account; with emit, hand the items to the run. */
    async planAccount(input: PlanAccountInput): Promise<PlanAccountResult> {
      return planAccountWith(adapterOf(input.limits.name), deps.client, input);
    },

    /** Approved policy runs: list one account again; which approved items the rules no longer delete. */
    async recheckPlan(input: RecheckPlanInput): Promise<RecheckPlanResult> {
      return recheckPlanWith(adapterOf(input.limits.name), input);
    },
  };

  function adapterOf(account: string) {
    try {
      return deps.adapters.get(account);
    } catch (err) {
      throw isProviderError(err) ? toFailure(err) : err;
    }
  }
}

export type Activities = ReturnType<typeof createActivities>;
