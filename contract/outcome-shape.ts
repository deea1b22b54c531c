/** Pure helpers for the shape of an item's outcome, shared by the workflows and the activities. */
import type { ItemOutcome, ItemRef } from './model';

const MAX_REASON = 300;

/** Reasons travel in every batch result and report line: long provider messages are cut. */
export function truncateReason(reason: string): string {
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason;
}

/** The item's identity as every outcome carries it (no policy or group fields). */
export function outcomeBase(
  item: ItemRef,
): Pick<ItemOutcome, 'account' | 'id' | 'checkpointId' | 'sizeBytes'> {
  return {
    account: item.account,
    id: item.id,
    ...(item.checkpointId ? { checkpointId: item.checkpointId } : {}),
    // What a deletion freed is the size the listing gave (issue 19); unknown stays absent.
    ...(item.sizeBytes !== undefined ? { sizeBytes: item.sizeBytes } : {}),
  };
}
