import type { ItemRef } from '../contract/model';

/** The parts of a backup a reviewer needs to recognise it in a plan. */
export interface PlannedRecord {
  id: string;
  checkpointId?: string;
  backupId: string;
  createdAt: string;
  name?: string;
}

export type PlanAction = 'delete' | 'keep';

export interface Decision {
  record: PlannedRecord;
  action: PlanAction;
  /**
   * Why, e.g. "keep-last 3", "keep-last 3, keep-daily 7", "delete-older-than 30d",
   * "protected: id \"b-1\"", "min-keep 1", "not deletable: automated backup", "outside selected groups".
   */
  rule: string;
}

export interface GroupPlan {
  account: string;
  group: string;
  /** Newest first (createdAt descending, then backupId). */
  decisions: Decision[];
}

export interface RetentionPlan {
  /** Sorted by account, then group. Every input record appears in exactly one decision. */
  groups: GroupPlan[];
  /** What to hand to the cleanup workflow: deduplicated, sorted; Veeam: one item per VM. */
  deletions: ItemRef[];
}
