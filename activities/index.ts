/**
 * The activities, built by a factory so tests and the worker inject their dependencies
 * (samples-typescript habit). Workflows import only the type.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { accountLimits, accountOf, type LoadedConfig } from '../worker/config';
import { accountLane } from '../workflows/account-lane';
import { laneWorkflowId } from '../workflows/ids';
import { enqueueSignal, type EnqueueRequest } from '../workflows/messages';
import type { AccountLimits } from '../workflows/model';
import {
  deleteBackupsWith,
  deleteBackupWith,
  toFailure,
  type DeleteBackupInput,
  type DeleteBackupsInput,
} from './delete-backup';
import { planAccountWith, type PlanAccountInput, type PlanAccountResult } from './discover';
import { isProviderError } from './provider-error';
import type { AdapterRegistry } from './providers/registry';

export interface ActivityDeps {
  loaded: LoadedConfig;
  adapters: AdapterRegistry;
  client: Client;
  taskQueue: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    /** Non-secret limits of the named accounts; unknown names fail at once, listing the known ones. */
    async resolveAccounts({ names }: { names: string[] }): Promise<Record<string, AccountLimits>> {
      const { config } = deps.loaded;
      const accounts = config.accounts;
      const unknown = names.filter((n) => !accountOf(config, n));
      if (unknown.length) {
        throw ApplicationFailure.create({
          type: 'UnknownAccount',
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

    /** Hands a chunk to the account's lane, starting the lane if it is not running (signal-with-start). */
    async enqueueToLane(req: EnqueueRequest): Promise<void> {
      await deps.client.workflow.signalWithStart(accountLane, {
        workflowId: laneWorkflowId(req.limits.name),
        taskQueue: deps.taskQueue,
        args: [{ account: req.limits.name, limits: req.limits }],
        signal: enqueueSignal,
        signalArgs: [req],
      });
    },

    async deleteBackup(input: DeleteBackupInput) {
      return deleteBackupWith(adapterOf(input.item.account), input);
    },

    /** Several items of one account started together (the lane's fast path, see delete-backup.ts). */
    async deleteBackups(input: DeleteBackupsInput) {
      return deleteBackupsWith(adapterOf(input.items[0]!.account), input);
    },

    /** Policy runs: list, plan and check guards for one account; with emit, hand the items to the run. */
    async planAccount(input: PlanAccountInput): Promise<PlanAccountResult> {
      return planAccountWith(adapterOf(input.limits.name), deps.client, input);
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
