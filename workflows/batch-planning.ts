/**
 * How a run spreads its items over batches and chooses which waiting batch to activate next, so that
 * as many accounts as possible are busy at once. Pure and deterministic (workflow code).
 *
 * Why: a run feeds at most ACTIVE_BATCHES batches at once. Items listed account by account (as policy
 * discovery emits them, and as people write lists) would otherwise fill the first batches with a few
 * accounts and leave the others idle until their batches come up.
 */
import { groupBy } from './keyed';
import type { ItemRef } from '../contract/model';

/** Most account indexes a batch records; a batch covering more counts as covering "many" (none preferred). */
export const MAX_TRACKED_ACCOUNTS = 32;

/** Round-robin by account (accounts in order of first appearance; each account's items keep their order). */
export function interleaveByAccount(items: ItemRef[]): ItemRef[] {
  const byAccount = groupBy(items, (i) => i.account);
  if (byAccount.size < 2) return items;
  const lists = [...byAccount.values()];
  const out: ItemRef[] = [];
  for (let k = 0; out.length < items.length; k++) for (const l of lists) if (k < l.length) out.push(l[k]!);
  return out;
}

/** The account indexes (into `accountOrder`) a batch's items cover, or undefined beyond MAX_TRACKED_ACCOUNTS. */
export function accountsCovered(items: ItemRef[], accountOrder: string[]): number[] | undefined {
  const names = [...new Set(items.map((i) => i.account))];
  if (names.length > MAX_TRACKED_ACCOUNTS) return undefined;
  return names.map((n) => accountOrder.indexOf(n)).sort((a, b) => a - b);
}

export interface PlannedBatch {
  control: string;
  done?: boolean;
  accounts?: number[];
}

/** Accounts covered by active batches. */
export function busyAccounts(batches: PlannedBatch[]): Set<number> {
  const busy = new Set<number>();
  for (const b of batches)
    if (b.control === 'active' && !b.done) for (const a of b.accounts ?? []) busy.add(a);
  return busy;
}

/** How many idle accounts a batch would make busy (a batch covering "many" always brings some). */
export function gainOf(accounts: number[] | undefined, busy: Set<number>): number {
  return accounts ? accounts.filter((a) => !busy.has(a)).length : MAX_TRACKED_ACCOUNTS + 1;
}

/**
 * The waiting batch to activate next: the one that brings the most idle accounts; the lowest index
 * among equals (request order when it makes no difference). With `onlyIfItBringsIdle` (items are
 * still arriving), a batch that brings none waits: a later page may bring idle accounts. -1: none.
 */
export function nextBatchToActivate(batches: PlannedBatch[], onlyIfItBringsIdle: boolean): number {
  const busy = busyAccounts(batches);
  let best = -1;
  let bestGain = onlyIfItBringsIdle ? 0 : -1;
  batches.forEach((b, n) => {
    if (b.control !== 'waiting' || b.done) return;
    const gain = gainOf(b.accounts, busy);
    if (gain > bestGain) [best, bestGain] = [n, gain];
  });
  return best;
}
