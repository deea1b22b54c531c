/**
 * Waits until the Temporal server holds a heartbeat of the current activity attempt. The "requesting"
 * record of a never-repeat delete (Veeam) must be durable before the request goes out: a worker that
 * dies right after sending it otherwise leaves a retry that finds no record and posts a second job
 * session (README, "Guarantees": Never repeated). A fixed head start is not enough on a loaded machine:
 * the chaos run saw two second sessions with a 300 ms head start, the heartbeat still on its way.
 *
 * The server's own pending-activity record is compared with itself (no clock skew): a heartbeat of this
 * attempt has `lastHeartbeatTime` at or after this attempt's `lastStartedTime`. One
 * DescribeWorkflowExecution per check (not a billed action).
 *
 * A deletion group heartbeats many times per attempt, so "a heartbeat of this attempt" is not enough
 * for it: its details carry a sequence number (`seq`), and `recorded(seq)` waits until the details the
 * server holds carry that number or a later one (README "Guarantees": The report never contradicts the
 * provider; the group announces the items it will start next and requests them only once announced).
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { optionalTsToMs } from '@temporalio/common/lib/time';

/**
 * Resolves once the server has a heartbeat of this attempt (with `seq`: one whose details' `seq` is at
 * least that), or as soon as `stillWanted` says false (the caller then must not rely on it); rejects
 * after RECORDED_WITHIN_MS.
 */
export type HeartbeatRecorded = (seq?: number, stillWanted?: () => boolean) => Promise<void>;

/** How long a heartbeat may take to reach the server before the attempt gives up (nothing sent). */
export const RECORDED_WITHIN_MS = 30_000;
const CHECK_EVERY_MS = 100;
/**
 * A numbered heartbeat may wait for the SDK's throttle (worker/worker.ts MAX_HEARTBEAT_THROTTLE_MS,
 * 2 s): after the first half second it is checked less often, so it costs a few describes, not twenty.
 */
const CHECK_SEQ_EVERY_MS = 300;
const CHECK_OFTEN_FOR_MS = 500;

export function heartbeatRecordedVia(client: Client): HeartbeatRecorded {
  return async (seq?: number, stillWanted?: () => boolean) => {
    const ctx = Context.current();
    const { workflowExecution, activityId, attempt } = ctx.info;
    if (!workflowExecution) throw new Error('a recorded heartbeat is waited for only in a workflow activity');
    const handle = client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
    const since = Date.now();
    const until = since + RECORDED_WITHIN_MS;
    for (;;) {
      if (stillWanted && !stillWanted()) return;
      const { raw } = await handle.describe();
      const mine = raw.pendingActivities?.find((p) => p.activityId === activityId && p.attempt === attempt);
      const beat = optionalTsToMs(mine?.lastHeartbeatTime);
      const started = optionalTsToMs(mine?.lastStartedTime);
      if (beat !== undefined && started !== undefined && beat >= started) {
        if (seq === undefined) return;
        const held = await decodeFromPayloadsAtIndex<{ seq?: number } | undefined>(
          client.options.loadedDataConverter,
          0,
          mine?.heartbeatDetails?.payloads,
        ).catch(() => undefined);
        if ((held?.seq ?? -1) >= seq) return;
      }
      if (Date.now() >= until)
        throw new Error(
          `the heartbeat of attempt ${attempt} did not reach the Temporal server within ${RECORDED_WITHIN_MS / 1000} s; nothing was sent to the provider`,
        );
      const often = seq === undefined || Date.now() - since < CHECK_OFTEN_FOR_MS;
      await ctx.sleep(often ? CHECK_EVERY_MS : CHECK_SEQ_EVERY_MS);
    }
  };
}
