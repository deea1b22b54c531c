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

/**
 * Patch 'account-batches': most batches of one run active at once. A batch that makes an idle account
 * busy starts beyond the run's usual ACTIVE_BATCHES, up to this many, so every account of a run of up to
 * this many accounts is busy from the start whatever the request's order (issue 16). What a run holds
 * in its lanes stays bounded: each active batch holds at most its lane window per account.
 */
export const MAX_ACTIVE_BATCHES = 32;

/**
 * Patch 'account-batches': cuts a page into batches by account instead of by position: the page's items
 * grouped by account (accounts in order of first appearance, each keeping its items' order), then cut
 * into batches of at most `batchSize`. As many batches as before, but each covers as few accounts as
 * the page allows, so activating by idle accounts (nextBatchForIdleAccounts) can make every account busy
 * at once whatever the request's order: a list grouped by account (4 accounts per page of 1,000) used to
 * give batches of 4 accounts each that left most accounts idle behind ACTIVE_BATCHES.
 */
export function cutByAccount(items: ItemRef[], batchSize: number): ItemRef[][] {
  const grouped = [...groupBy(items, (i) => i.account).values()].flat();
  const out: ItemRef[][] = [];
  for (let at = 0; at < grouped.length; at += batchSize) out.push(grouped.slice(at, at + batchSize));
  return out;
}

/**
 * Patch 'account-batches': the waiting batch to activate next. First the one that makes the most idle
 * accounts busy (lowest index among equals), allowed up to MAX_ACTIVE_BATCHES active; only then, within
 * `maxActive` (the run's ACTIVE_BATCHES), one that brings none: a batch covering "many" accounts at any
 * time, any other once the run is `sealed` (while items still arrive, a later page may bring idle
 * accounts). -1: none.
 */
export function nextBatchForIdleAccounts(
  batches: PlannedBatch[],
  maxActive: number,
  sealed: boolean,
): number {
  const active = batches.filter((b) => b.control === 'active' && !b.done).length;
  if (active >= MAX_ACTIVE_BATCHES) return -1;
  const busy = busyAccounts(batches);
  let best = -1;
  let bestGain = 0;
  let fallback = -1;
  batches.forEach((b, n) => {
    if (b.control !== 'waiting' || b.done) return;
    if (!b.accounts) {
      if (fallback < 0) fallback = n;
      return;
    }
    const gain = b.accounts.filter((a) => !busy.has(a)).length;
    if (gain > bestGain) [best, bestGain] = [n, gain];
    else if (sealed && fallback < 0) fallback = n;
  });
  if (best >= 0) return best;
  return active < maxActive ? fallback : -1;
}

/**
 * Patch 'account-batches': whether a batch created now starts at once, by the rule of
 * nextBatchForIdleAccounts applied to it alone (`accounts` as accountsCovered gives them).
 */
export function startsAtOnce(
  batches: PlannedBatch[],
  accounts: number[] | undefined,
  maxActive: number,
  sealed: boolean,
): boolean {
  const active = batches.filter((b) => b.control === 'active' && !b.done).length;
  if (active >= MAX_ACTIVE_BATCHES) return false;
  if (accounts && gainOf(accounts, busyAccounts(batches)) > 0) return true;
  return active < maxActive && (!accounts || sealed);
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
