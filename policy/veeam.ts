import { hasTime, keep, remove, type Decided, type PlanContext } from './context';
import { isSuccessful, notDeletableReason } from './deletable';
import { unknownTimeRule, type Timed } from './order';
import { protectionReason } from './protection';

/**
 * Decisions for one Veeam VM (a group of restore points whose `id` is the VM id).
 *
 * Veeam v1 can only delete a VM's backups as a whole, so the decision is per VM, not per restore
 * point, and the keep rules (keepLast, GFS, keepWithin, deleteOlderThan) do not apply: honouring
 * "keep the last 3" would mean keeping the VM, which keeps every point anyway. The only rule is
 * `olderThanVmThreshold`: the VM goes when its newest restore point is older than the threshold,
 * unless one of its points is protected or not deletable, or min-keep forbids it.
 *
 * min-keep still holds ("never delete the newest N successful backups of a group"), which means the
 * default `minKeep: 1` keeps every VM that has a successful restore point. To remove whole VMs set
 * `minKeep: 0`; the reasons in the plan say so.
 */
export function decideVeeamVm(newestFirst: readonly Timed[], ctx: PlanContext): Decided[] {
  const { policy } = ctx;
  const threshold = policy.olderThanVmThreshold;
  if (threshold === undefined || ctx.vmThresholdCutoffMs === undefined) {
    return newestFirst.map((t) =>
      keep(
        t,
        'veeam: the policy has no olderThanVmThreshold; keep rules do not apply to Veeam restore points',
      ),
    );
  }

  // Restore points that forbid deleting the VM by themselves.
  const own = newestFirst.map((t): { reason: string; what: string } | undefined => {
    const notDeletable = notDeletableReason(t.record);
    if (notDeletable !== undefined)
      return { reason: `not deletable: ${notDeletable}`, what: 'is not deletable' };
    const protectedBy = protectionReason(t.record, policy.protect);
    if (protectedBy !== undefined) return { reason: protectedBy, what: 'is protected' };
    if (!hasTime(t)) {
      return { reason: unknownTimeRule(t.record), what: 'has an unknown creation time' };
    }
    return undefined;
  });
  const blockerIndex = own.findIndex((o) => o !== undefined);
  const blocker = own[blockerIndex];
  const blockerPoint = newestFirst[blockerIndex];
  if (blocker && blockerPoint) {
    const vmKept = `veeam: VM kept because restore point ${JSON.stringify(blockerPoint.record.backupId)} ${blocker.what}`;
    return newestFirst.map((t, i) => keep(t, own[i]?.reason ?? vmKept));
  }

  // Every point has a readable time here (an unreadable one is a blocker above).
  const newest = newestFirst[0];
  if (!newest || newest.ms === undefined) return [];
  if (newest.ms >= ctx.vmThresholdCutoffMs) {
    const why = `veeam: newest restore point ${newest.record.createdAt} is within older-than-vm-threshold ${threshold}`;
    return newestFirst.map((t) => keep(t, why));
  }

  const floor = new Set(newestFirst.filter((t) => isSuccessful(t.record)).slice(0, policy.minKeep));
  if (floor.size > 0) {
    const hint =
      'deleting a Veeam VM deletes all its restore points; set minKeep: 0 to let olderThanVmThreshold remove it';
    return newestFirst.map((t) =>
      keep(
        t,
        floor.has(t)
          ? `min-keep ${policy.minKeep} (${hint})`
          : `veeam: VM kept by min-keep ${policy.minKeep} (${hint})`,
      ),
    );
  }

  const why = `older-than-vm-threshold ${threshold} (newest restore point ${newest.record.createdAt})`;
  return newestFirst.map((t) => remove(t, why));
}
