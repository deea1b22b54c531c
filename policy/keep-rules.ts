import { isSuccessful } from './deletable';
import type { Timed } from './order';
import { periodKey, type Period } from './periods';
import type { RetentionPolicy } from './schema';

/**
 * The count-based keep rules (keep-last and the GFS rules), restic `forget` style:
 * each rule is evaluated on its own over the whole group, and a backup is kept if any rule keeps it.
 *
 * Only successful backups take part. A failed or partial backup is useless for a restore, so it must
 * not use up a "keep the last 3" slot or stand for its day/week/month/year (borg treats its
 * checkpoint archives the same way). Failed backups can still be kept by keep-within, protection,
 * or by not being older than deleteOlderThan.
 */

/** A record whose creation time could be read. */
export type Candidate = Timed & { ms: number };

const GFS: ReadonlyArray<{
  field: 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly';
  period: Period;
  label: string;
}> = [
  { field: 'keepDaily', period: 'daily', label: 'keep-daily' },
  { field: 'keepWeekly', period: 'weekly', label: 'keep-weekly' },
  { field: 'keepMonthly', period: 'monthly', label: 'keep-monthly' },
  { field: 'keepYearly', period: 'yearly', label: 'keep-yearly' },
];

/**
 * For each candidate some keep rule keeps, the labels of those rules in rule order, e.g.
 * ["keep-last 3", "keep-daily 7"]. `newestFirst` is one group, newest first, readable times only.
 *
 * GFS: walking from the newest backup back, the first successful backup seen in each new period is
 * the newest of that period; the N most recent periods that contain a successful backup each keep
 * theirs. Periods without backups are skipped, not counted (restic and borg do the same), so a group
 * backed up every other day with keepDaily 7 keeps 7 backups spanning 14 days.
 */
export function keepRuleReasons(
  newestFirst: readonly Candidate[],
  rules: RetentionPolicy['rules'],
  keepWithinCutoffMs: number | undefined,
): Map<Candidate, string[]> {
  const kept = new Map<Candidate, string[]>();
  const keep = (c: Candidate, label: string): void => {
    const labels = kept.get(c);
    if (labels) labels.push(label);
    else kept.set(c, [label]);
  };
  const successful = newestFirst.filter((c) => isSuccessful(c.record));

  if (rules.keepLast !== undefined) {
    for (const c of successful.slice(0, rules.keepLast)) keep(c, `keep-last ${rules.keepLast}`);
  }
  if (rules.keepWithin !== undefined && keepWithinCutoffMs !== undefined) {
    // Every backup, successful or not: "keep everything from the last 30 days" means everything.
    // The cutoff itself is inside the window, so keepWithin X and deleteOlderThan X agree on it.
    for (const c of newestFirst) if (c.ms >= keepWithinCutoffMs) keep(c, `keep-within ${rules.keepWithin}`);
  }
  for (const { field, period, label } of GFS) {
    const n = rules[field];
    if (n === undefined) continue;
    let remaining = n;
    let lastKey: string | undefined;
    for (const c of successful) {
      if (remaining === 0) break;
      const key = periodKey(period, c.ms);
      if (key === lastKey) continue;
      lastKey = key;
      remaining--;
      keep(c, `${label} ${n}`);
    }
  }
  return kept;
}

/** The labels of the keep rules a policy sets, for "not kept by ..." explanations. */
export function keepRuleLabels(rules: RetentionPolicy['rules']): string[] {
  const labels: string[] = [];
  if (rules.keepLast !== undefined) labels.push(`keep-last ${rules.keepLast}`);
  if (rules.keepWithin !== undefined) labels.push(`keep-within ${rules.keepWithin}`);
  for (const { field, label } of GFS) {
    const n = rules[field];
    if (n !== undefined) labels.push(`${label} ${n}`);
  }
  return labels;
}
