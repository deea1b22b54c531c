/**
 * Waits until the Temporal server holds a heartbeat of the current activity attempt. The "requesting"
 * record of a never-repeat delete (Veeam) must be durable before the request goes out: a worker that
 * dies right after sending it otherwise leaves a retry that finds no record and posts a second job
 * session (README, "Guarantees": Never repeated). A fixed head start is not enough on a loaded machine:
 * the chaos run saw two second sessions with a 300 ms head start, the heartbeat still on its way.
 *
 * The server's own pending-activity record is compared with itself (no clock skew): a heartbeat of this
 * attempt has `lastHeartbeatTime` at or after this attempt's `lastStartedTime`. One
 * DescribeWorkflowExecution per check (not a billed action); only never-repeat deletes wait for it.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';

/** Resolves once the server has a heartbeat of this attempt; rejects after RECORDED_WITHIN_MS. */
export type HeartbeatRecorded = () => Promise<void>;

/** How long a heartbeat may take to reach the server before the attempt gives up (nothing sent). */
export const RECORDED_WITHIN_MS = 30_000;
const CHECK_EVERY_MS = 100;

export function heartbeatRecordedVia(client: Client): HeartbeatRecorded {
  return async () => {
    const ctx = Context.current();
    const { workflowExecution, activityId, attempt } = ctx.info;
    if (!workflowExecution) throw new Error('a never-repeat delete runs only as a workflow activity');
    const handle = client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
    const until = Date.now() + RECORDED_WITHIN_MS;
    for (;;) {
      const { raw } = await handle.describe();
      const mine = raw.pendingActivities?.find((p) => p.activityId === activityId && p.attempt === attempt);
      const beat = optionalTsToMs(mine?.lastHeartbeatTime);
      const started = optionalTsToMs(mine?.lastStartedTime);
      if (beat !== undefined && started !== undefined && beat >= started) return;
      if (Date.now() >= until)
        throw new Error(
          `the heartbeat of attempt ${attempt} did not reach the Temporal server within ${RECORDED_WITHIN_MS / 1000} s; nothing was sent to the provider`,
        );
      await ctx.sleep(CHECK_EVERY_MS);
    }
  };
}
