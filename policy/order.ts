import type { BackupRecord } from '../contract/model';

/**
 * The one order every part of the planner uses: account, group, newest first, then backupId.
 * Ties that remain (the same backup listed twice with different details) are broken on a canonical
 * serialisation of the whole record, so the plan does not depend on the order of the input.
 * Plain code-unit comparison, never localeCompare: the result must not depend on the host's locale.
 */

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * An ISO-8601 time with its zone, as the adapters write every time they could read. Anything else is
 * the provider's raw value of a time they could not read (or '' when it gave none): Date.parse alone
 * would read some of those as a date ("1" is 2001, a zone-less time is local time).
 */
const ISO_WITH_ZONE = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** Milliseconds since the epoch, or undefined when the backup's creation time is unknown. */
export function timeOf(record: Pick<BackupRecord, 'createdAt'>): number | undefined {
  if (typeof record.createdAt !== 'string' || !ISO_WITH_ZONE.test(record.createdAt)) return undefined;
  const ms = Date.parse(record.createdAt);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Why a backup whose creation time is unknown is kept, showing what the provider gave. */
export function unknownTimeRule(record: Pick<BackupRecord, 'createdAt'>): string {
  const raw = record.createdAt as unknown;
  return `creation time unknown (${raw === '' || raw === undefined || raw === null ? 'not given by the provider' : JSON.stringify(raw)})`;
}

export interface Timed {
  record: BackupRecord;
  /** undefined when createdAt is unreadable; such records sort after all readable ones. */
  ms: number | undefined;
}

export function withTime(record: BackupRecord): Timed {
  return { record, ms: timeOf(record) };
}

export function compareNewestFirst(a: Timed, b: Timed): number {
  return (
    compareStrings(a.record.account, b.record.account) ||
    compareStrings(a.record.group, b.record.group) ||
    compareTimesDesc(a.ms, b.ms) ||
    compareStrings(a.record.backupId, b.record.backupId) ||
    compareStrings(canonical(a.record), canonical(b.record))
  );
}

function compareTimesDesc(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return b - a;
}

/** JSON with object keys sorted, so two equal records always serialise the same way. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort(compareStrings)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
