/**
 * UTC calendar periods for the GFS rules (keepDaily / keepWeekly / keepMonthly / keepYearly).
 *
 * UTC, not the account's local time zone: the plan must come out the same on every worker and in
 * the workflow sandbox, and provider timestamps are UTC. A backup made at 23:30 local time in
 * UTC+2 therefore counts for the UTC day it falls on (documented in docs/policies.md).
 */

export type Period = 'daily' | 'weekly' | 'monthly' | 'yearly';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A string that is equal for two times exactly when they fall in the same UTC period. */
export function periodKey(period: Period, ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  switch (period) {
    case 'daily':
      return `${year}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    case 'weekly':
      return isoWeekKey(d);
    case 'monthly':
      return `${year}-${pad(d.getUTCMonth() + 1)}`;
    case 'yearly':
      return String(year);
  }
}

/**
 * ISO 8601 week, e.g. "2025-W01" for Monday 30 December 2024. The week belongs to the year of its
 * Thursday, so the first days of January can be in week 52/53 of the previous year.
 */
export function isoWeekKey(date: Date): string {
  const dayMs = 86_400_000;
  const midnight = date.getTime() - (((date.getTime() % dayMs) + dayMs) % dayMs);
  const weekday = (date.getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
  const thursday = new Date(midnight + (3 - weekday) * dayMs);
  const isoYear = thursday.getUTCFullYear();
  const jan1 = new Date(0);
  jan1.setUTCFullYear(isoYear, 0, 1);
  const week = 1 + Math.floor((thursday.getTime() - jan1.getTime()) / dayMs / 7);
  return `${isoYear}-W${pad(week)}`;
}
