import type { Timed } from './order';
import type { PlanAction } from './plan-types';
import type { RetentionPolicy } from './schema';

/** What the planner decided for one record, before the plan is assembled. */
export interface Decided {
  timed: Timed;
  action: PlanAction;
  rule: string;
}

/** The policy with its durations already turned into cutoff times for this `now`. */
export interface PlanContext {
  policy: RetentionPolicy;
  keepWithinCutoffMs?: number;
  deleteOlderThanCutoffMs?: number;
  vmThresholdCutoffMs?: number;
}

export const keep = (timed: Timed, rule: string): Decided => ({ timed, action: 'keep', rule });
export const remove = (timed: Timed, rule: string): Decided => ({ timed, action: 'delete', rule });

export function hasTime(t: Timed): t is Timed & { ms: number } {
  return t.ms !== undefined;
}
