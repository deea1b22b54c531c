/**
 * When a long-lived workflow hands over to a new execution (continue-as-new): when the server suggests
 * it, or once its history passes a length well below Temporal's 10,240-event warning. The limits differ
 * by workflow because what happens after the decision differs: a lane first drains its deletions in
 * flight (about three events each), a run only waits for its handlers.
 */
import { workflowInfo } from '@temporalio/workflow';

/** A lane: draining adds about three events per deletion in flight (up to 1000 at the config's maximum). */
export const LANE_EVENTS_BEFORE_CONTINUE = 3_000;
/** A run: about 50 events per batch; nothing is drained before the hand-over. */
export const RUN_EVENTS_BEFORE_CONTINUE = 4_000;

export function shouldContinueAsNew(eventsLimit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > eventsLimit;
}
