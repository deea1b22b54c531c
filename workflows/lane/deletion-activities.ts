/**
 * The deletion activities as a lane calls them: one proxy per distinct set of limits, so a config
 * change reaches new deletions at once, with the retry policy of the account (Temporal retries
 * transient failures with exponential backoff; the deadline covers every attempt).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { deletionRetry } from '../../contract/retry-rules';
import type { AccountLimits } from '../model';

type DeletionActivities = Pick<Activities, 'deleteBackup' | 'deleteBackups'>;

const proxies = new Map<string, DeletionActivities>();

export function deletionActivitiesFor(l: AccountLimits): DeletionActivities {
  const key = [
    l.deletionDeadlineMs,
    l.pollIntervalMs,
    l.retryInitialIntervalMs,
    l.retryMaxIntervalMs,
    l.maxAttempts,
  ].join('/');
  let fn = proxies.get(key);
  if (!fn) {
    fn = proxyActivities<Activities>({
      // The deadline covers every attempt: past it the item ends `failed`, never hangs.
      scheduleToCloseTimeout: l.deletionDeadlineMs,
      // A worker that dies mid-deletion is noticed within this time; the retry resumes from heartbeat
      // details. Not shorter than 30 s: the SDK sends heartbeats at most every 80% of it, and every
      // heartbeat that reaches the server is a billed action.
      heartbeatTimeout: Math.max(30_000, 3 * l.pollIntervalMs),
      retry: deletionRetry(l),
    });
    proxies.set(key, fn);
  }
  return fn;
}
