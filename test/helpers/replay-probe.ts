/**
 * A workflow interceptor module for the replay test only: reports every activity the replayed code
 * schedules (type and arguments) through a sink that runs during replay, so the test can compare what
 * the current code would send with what the recorded execution sent. Temporal's own determinism check
 * compares command types and activity ids, not inputs: without this, a change that alters what a lane
 * sends to a provider (or removes a patch gate) could still replay.
 */
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface ReplayProbeSinks extends Sinks {
  replayProbe: { activityScheduled(activityType: string, args: unknown[]): void };
}

const { replayProbe } = proxySinks<ReplayProbeSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        replayProbe.activityScheduled(input.activityType, input.args);
        return next(input);
      },
      scheduleLocalActivity(input, next) {
        replayProbe.activityScheduled(input.activityType, input.args);
        return next(input);
      },
    },
  ],
});
