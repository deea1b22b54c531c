/**
 * Items a batch re-sent to a lane that did not hold them (the lane was terminated or reset, and a new
 * execution started with an empty ledger). The earlier lane may already have had them deleted, or may
 * have a deletion of them running at the provider; requesting again would be a second delete of the
 * same backup (README, "Guarantees": one deletion per backup). So, before any request, the provider is
 * asked through its ordinary read path what is left of the backup:
 *  - `gone`: deleted earlier (the earlier lane's acknowledgement was lost with it): `absent`, not requested;
 *  - `deleting`: a deletion runs already: observed to its end, not requested;
 *  - `present`: nothing was started (or it failed): requested as usual.
 * A retried deletion group reads the same way the items it has no record of (its worker was lost
 * between an acceptance and the heartbeat that records it; activities/deletion/group.ts).
 * Veeam shows no running deletion without its session id (no session listing, providers.md §4): a
 * re-sent VM with a recorded session is observed through it (the batch keeps the handle); one without
 * is `present` while anything of it is listed.
 */
import type { ItemRef } from '../contract/model';
import type { CallContext, ProviderAdapter } from './providers/adapter';

export type Inspection = 'gone' | 'deleting' | 'present';

export async function inspectResent(
  adapter: ProviderAdapter,
  item: ItemRef,
  call: CallContext,
): Promise<Inspection> {
  if (adapter.neverRepeatDelete)
    return (await adapter.neverRepeatDelete.stillThere(item, call)) ? 'present' : 'gone';
  const seen = await adapter.observeDeletion(item, {}, call);
  if (seen.state === 'gone') return 'gone';
  if (seen.state === 'pending' && adapter.deletingStatuses?.has(seen.status)) return 'deleting';
  // Failed or blocked deletions, and resting states: the normal request decides (and reports) them.
  return 'present';
}

/** Reasons of the outcomes of re-sent items (the report says why nothing was requested). */
export const RESENT_GONE =
  'gone when the restarted lane looked before requesting: deleted earlier (presumably by the account lane that was stopped before it could report; acknowledgement lost); not requested again';
export const RESENT_OBSERVED =
  'deletion accepted earlier (by the account lane that was stopped) observed to its end; not requested again';
export const RETRY_GONE =
  'gone when a retried attempt looked before requesting: deleted earlier (presumably by the attempt whose worker was lost before it recorded the answer); not requested again';
