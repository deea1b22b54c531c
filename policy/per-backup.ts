import { hasTime, keep, remove, type Decided, type PlanContext } from './context';
import { isSuccessful, notDeletableReason } from './deletable';
import { keepRuleLabels, keepRuleReasons } from './keep-rules';
import { unknownTimeRule, type Timed } from './order';
import { protectionReason } from './protection';

/**
 * Decisions for one group of a provider that deletes single backups (everything but Veeam).
 * `newestFirst` is the group in plan order.
 *
 * A backup is deleted only when nothing keeps it. What keeps it, in the order the reason is shown:
 *   1. the provider says it cannot be deleted ("not deletable: ...");
 *   2. it is protected by id, name pattern or tag;
 *   3. its creation time is unknown (missing or unreadable: no rule can place it in time);
 *   4. a keep rule keeps it (all such rules are listed);
 *   5. deleteOlderThan is set and the backup is not older than it;
 *   6. it is one of the newest `minKeep` successful backups of the group.
 * min-keep comes last on purpose: "min-keep 1" in a plan means min-keep alone saved the backup.
 */
export function decideBackups(newestFirst: readonly Timed[], ctx: PlanContext): Decided[] {
  const { policy } = ctx;
  const readable = newestFirst.filter(hasTime);
  const keptByRules = keepRuleReasons(readable, policy.rules, ctx.keepWithinCutoffMs);
  // The floor counts every successful backup of the group, deletable or not: those are the backups
  // a restore could use, and they exist whatever this plan does.
  const floor = new Set<Timed>(readable.filter((t) => isSuccessful(t.record)).slice(0, policy.minKeep));
  const notKeptBy = keepRuleLabels(policy.rules);
  const deleteOlderThan = policy.rules.deleteOlderThan;

  return newestFirst.map((t): Decided => {
    const r = t.record;
    const notDeletable = notDeletableReason(r);
    if (notDeletable !== undefined) return keep(t, `not deletable: ${notDeletable}`);
    const protectedBy = protectionReason(r, policy.protect);
    if (protectedBy !== undefined) return keep(t, protectedBy);
    if (!hasTime(t)) return keep(t, unknownTimeRule(r));
    const reasons = keptByRules.get(t);
    if (reasons) return keep(t, reasons.join(', '));
    if (ctx.deleteOlderThanCutoffMs !== undefined && t.ms >= ctx.deleteOlderThanCutoffMs) {
      return keep(t, `younger than delete-older-than ${deleteOlderThan}`);
    }
    if (floor.has(t)) return keep(t, `min-keep ${policy.minKeep}`);

    const why: string[] = [];
    if (deleteOlderThan !== undefined) why.push(`delete-older-than ${deleteOlderThan}`);
    if (notKeptBy.length > 0) why.push(`not kept by ${notKeptBy.join(', ')}`);
    if (!isSuccessful(r)) why.push(`not successful (status ${JSON.stringify(r.status)})`);
    return remove(t, why.join('; '));
  });
}
