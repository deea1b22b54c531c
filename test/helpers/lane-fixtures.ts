/** Items and queued batches for the lane's pure-state tests (test/lane-state, test/lane-queues). */
import { itemKey, type ItemRef } from '../../contract/model';
import type { LaneQueues } from '../../workflows/lane/queues';

export const A = 'acct';

export const item = (id: string, checkpointId?: string): ItemRef => ({
  account: A,
  id,
  ...(checkpointId ? { checkpointId } : {}),
});

export const batchId = (run: string, n: number) => `${run}/batch-${String(n).padStart(5, '0')}`;

/** Queues `ids` in `batch` the way the lane's enqueue does: in its items, held by key. */
export function queue(q: LaneQueues, batch: string, ids: string[], now = 0) {
  const b = q.batch(batch, now);
  for (const id of ids) {
    b.items.push(item(id));
    b.held.add(itemKey(item(id)));
  }
  return b;
}
