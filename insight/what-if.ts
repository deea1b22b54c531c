/**
 * The what-if of a policy change: list the accounts through the worker's own adapters (read-only,
 * the worker config's endpoints, TLS and limits, pages paced like discovery), plan the current and
 * the proposed policy on the same listing, and tell per account and group which backups, and how
 * many bytes, the proposed policy would delete in addition or keep in addition, and the oldest
 * restore point each would keep. Nothing here can delete: it calls only `listBackups`, never a
 * delete endpoint, and needs no Temporal. Without a current policy the comparison is with deleting
 * nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { listChecked } from '../activities/listing';
import { AdapterRegistry } from '../activities/providers/registry';
import { planRetention, type RetentionPolicyInput } from '../policy';
import { accountLimits, type LoadedConfig } from '../worker/config';
import type { BackupRecord, ProviderKind } from '../contract/model';
import { addSize, emptyTotal, sumTotals, type ByteTotal } from './bytes';

export interface WhatIfGroup {
  account: string;
  group: string;
  listed: ByteTotal;
  /** What each policy deletes in this group. */
  current: ByteTotal;
  proposed: ByteTotal;
  /** Deleted by the proposed policy and kept by the current one. */
  moreDeleted: ByteTotal;
  /** Kept by the proposed policy and deleted by the current one. */
  moreKept: ByteTotal;
  /** createdAt of the oldest backup each policy keeps; absent when it keeps none. */
  oldestKept: { current?: string; proposed?: string };
}

export interface WhatIfAccount {
  account: string;
  provider: ProviderKind;
  listed: ByteTotal;
  current: ByteTotal;
  proposed: ByteTotal;
  moreDeleted: ByteTotal;
  moreKept: ByteTotal;
  groups: WhatIfGroup[];
}

export interface WhatIfResult {
  /** The instant both policies were planned against. */
  now: string;
  /** False when there was no current policy (the comparison is with deleting nothing). */
  compared: boolean;
  accounts: WhatIfAccount[];
  total: Omit<WhatIfAccount, 'account' | 'provider' | 'groups'>;
}

/** Which records a policy deletes and keeps, by the record's identity in the listing. */
function decisionsOf(records: readonly BackupRecord[], policy: RetentionPolicyInput | undefined, now: Date) {
  const deleted = new Set<string>();
  if (!policy) return deleted;
  for (const g of planRetention(records, policy, now).groups)
    for (const d of g.decisions)
      if (d.action === 'delete')
        deleted.add(`${g.account}\n${d.record.checkpointId ?? ''}/${d.record.backupId}`);
  return deleted;
}

const keyOf = (r: BackupRecord) => `${r.account}\n${r.checkpointId ?? ''}/${r.backupId}`;

/** The difference of two plans of one listing (pure: tests and the command share it). */
export function compareListing(
  records: readonly BackupRecord[],
  proposed: RetentionPolicyInput,
  current: RetentionPolicyInput | undefined,
  now: Date,
): WhatIfGroup[] {
  const delNew = decisionsOf(records, proposed, now);
  const delCur = decisionsOf(records, current, now);
  const groups = new Map<string, WhatIfGroup>();
  for (const r of records) {
    const gk = `${r.account}\n${r.group}`;
    let g = groups.get(gk);
    if (!g) {
      g = {
        account: r.account,
        group: r.group,
        listed: emptyTotal(),
        current: emptyTotal(),
        proposed: emptyTotal(),
        moreDeleted: emptyTotal(),
        moreKept: emptyTotal(),
        oldestKept: {},
      };
      groups.set(gk, g);
    }
    const k = keyOf(r);
    const byNew = delNew.has(k);
    const byCur = delCur.has(k);
    addSize(g.listed, r.sizeBytes);
    if (byCur) addSize(g.current, r.sizeBytes);
    else g.oldestKept.current = older(g.oldestKept.current, r.createdAt);
    if (byNew) addSize(g.proposed, r.sizeBytes);
    else g.oldestKept.proposed = older(g.oldestKept.proposed, r.createdAt);
    if (byNew && !byCur) addSize(g.moreDeleted, r.sizeBytes);
    if (byCur && !byNew) addSize(g.moreKept, r.sizeBytes);
  }
  return [...groups.values()].sort(
    (a, b) => a.account.localeCompare(b.account) || a.group.localeCompare(b.group),
  );
}

const older = (a: string | undefined, b: string) =>
  a === undefined || Date.parse(b) < Date.parse(a) ? b : a;

function rollUp(groups: readonly WhatIfGroup[]) {
  const sum = (f: (g: WhatIfGroup) => ByteTotal) => sumTotals(groups.map(f));
  return {
    listed: sum((g) => g.listed),
    current: sum((g) => g.current),
    proposed: sum((g) => g.proposed),
    moreDeleted: sum((g) => g.moreDeleted),
    moreKept: sum((g) => g.moreKept),
  };
}

export interface WhatIfInput {
  loaded: LoadedConfig;
  accounts: readonly string[];
  proposed: RetentionPolicyInput;
  current?: RetentionPolicyInput;
  now?: Date;
}

/** Lists every account (in parallel, each paced by its own request rate) and compares the plans. */
export async function whatIf(input: WhatIfInput): Promise<WhatIfResult> {
  const now = input.now ?? new Date();
  const adapters = new AdapterRegistry(input.loaded);
  try {
    const accounts = await Promise.all(
      input.accounts.map(async (name): Promise<WhatIfAccount> => {
        const account = input.loaded.config.accounts[name]!;
        const limits = accountLimits(name, account);
        const records = await listChecked(adapters.get(name), limits, { sleep: (ms) => sleep(ms) });
        const groups = compareListing(records, input.proposed, input.current, now);
        return { account: name, provider: limits.provider, ...rollUp(groups), groups };
      }),
    );
    return {
      now: now.toISOString(),
      compared: input.current !== undefined,
      accounts,
      total: rollUp(accounts.flatMap((a) => a.groups)),
    };
  } finally {
    await adapters.close();
  }
}
