import { itemKey, type BackupRecord, type ItemRef } from '../contract/model';
import { keep, type Decided, type PlanContext } from './context';
import { cutoffBefore } from './duration';
import { compareNewestFirst, compareStrings, withTime, type Timed } from './order';
import { decideBackups } from './per-backup';
import type { Decision, GroupPlan, PlannedRecord, RetentionPlan } from './plan-types';
import { assertRetentionPolicy, type RetentionPolicy, type RetentionPolicyInput } from './schema';
import { decideVeeamVm } from './veeam';

/**
 * Plans which backups a retention policy deletes. Pure and deterministic: no clock (pass `now`),
 * no I/O, and the same plan for the same records in any order, so it can run inside a workflow.
 *
 * The policy is validated again here (it is cheap): a policy that reached the workflow as JSON has
 * not necessarily been through the schema, and an invalid one must fail loudly, not delete.
 * Throws `PolicyError` for an invalid policy and `RangeError` for an unreadable `now`.
 */
export function planRetention(
  records: readonly BackupRecord[],
  policy: RetentionPolicy | RetentionPolicyInput,
  now: Date | string,
): RetentionPlan {
  const valid = assertRetentionPolicy(policy);
  const nowDate = typeof now === 'string' ? new Date(now) : new Date(now.getTime());
  if (Number.isNaN(nowDate.getTime()))
    throw new RangeError(`planRetention: now ${JSON.stringify(String(now))} is not a valid date`);

  const ctx: PlanContext = {
    policy: valid,
    keepWithinCutoffMs: cutoffMs(nowDate, valid.rules.keepWithin),
    deleteOlderThanCutoffMs: cutoffMs(nowDate, valid.rules.deleteOlderThan),
    vmThresholdCutoffMs: cutoffMs(nowDate, valid.olderThanVmThreshold),
  };
  const selected = valid.groups ? new Set(valid.groups) : undefined;

  const decided: Decided[][] = [];
  for (const group of groupsOf(records.map(withTime).sort(compareNewestFirst))) {
    const first = group[0];
    if (!first) continue;
    if (selected && !selected.has(first.record.group)) {
      decided.push(group.map((t) => keep(t, 'outside selected groups')));
    } else if (group.some((t) => t.record.provider === 'veeam')) {
      decided.push(decideVeeamVm(group, ctx));
    } else {
      decided.push(decideBackups(group, ctx));
    }
  }
  keepSharedItems(decided.flat());

  return {
    groups: decided.flatMap((ds): GroupPlan[] => {
      const first = ds[0];
      if (!first) return [];
      return [
        {
          account: first.timed.record.account,
          group: first.timed.record.group,
          decisions: ds.map(toDecision),
        },
      ];
    }),
    deletions: deletionsOf(decided.flat()),
  };
}

function cutoffMs(now: Date, duration: string | undefined): number | undefined {
  return duration === undefined ? undefined : cutoffBefore(now, duration).getTime();
}

/** Splits records sorted by account and group into one array per (account, group). */
function groupsOf(sorted: readonly Timed[]): Timed[][] {
  const groups: Timed[][] = [];
  let current: Timed[] = [];
  for (const t of sorted) {
    const prev = current[0];
    if (prev && (prev.record.account !== t.record.account || prev.record.group !== t.record.group)) {
      groups.push(current);
      current = [];
    }
    current.push(t);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * A deletion item removes everything listed under it: a Veeam VM id removes all restore points of
 * that VM, in whatever group they were listed, and a duplicated listing of one backup is one item.
 * So an item is deleted only when every record behind it is planned for deletion; otherwise the
 * records planned for deletion are kept, naming the kept backup that holds the item back.
 */
function keepSharedItems(all: Decided[]): void {
  const keptByKey = new Map<string, Decided>();
  for (const d of all) {
    const key = itemKey(d.timed.record);
    if (d.action === 'keep' && !keptByKey.has(key)) keptByKey.set(key, d);
  }
  for (const d of all) {
    if (d.action !== 'delete') continue;
    const holder = keptByKey.get(itemKey(d.timed.record));
    if (!holder) continue;
    d.action = 'keep';
    const { account, group, backupId } = holder.timed.record;
    d.rule = `shares its deletion item with kept backup ${JSON.stringify(backupId)} (${account}/${group}: ${holder.rule})`;
  }
}

function deletionsOf(all: readonly Decided[]): ItemRef[] {
  const byKey = new Map<string, ItemRef>();
  for (const d of all) {
    if (d.action !== 'delete') continue;
    const { account, id, checkpointId } = d.timed.record;
    const item: ItemRef = checkpointId !== undefined ? { account, id, checkpointId } : { account, id };
    byKey.set(itemKey(item), item);
  }
  return [...byKey.values()].sort(
    (a, b) =>
      compareStrings(a.account, b.account) ||
      compareStrings(a.checkpointId ?? '', b.checkpointId ?? '') ||
      compareStrings(a.id, b.id),
  );
}

function toDecision(d: Decided): Decision {
  const r = d.timed.record;
  const record: PlannedRecord = { id: r.id, backupId: r.backupId, createdAt: r.createdAt };
  if (r.checkpointId !== undefined) record.checkpointId = r.checkpointId;
  if (r.name !== undefined) record.name = r.name;
  return { record, action: d.action, rule: d.rule };
}
