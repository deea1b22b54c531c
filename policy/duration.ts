/**
 * Retention durations such as "30d", "12h", "2w", "1y6m" or "1y2m3d".
 *
 * Units follow restic's `--keep-within`: y (years), m (months), w (weeks), d (days), h (hours).
 * "m" means months, as in restic, so "90m" is 90 months, not minutes: retention works on days and
 * months, and one letter meaning two things would be a trap in a deletion policy.
 *
 * Years and months are calendar units, taken back from `now` in UTC (so "1m" before 31 March is
 * 29 February in a leap year); weeks, days and hours are fixed lengths, which in UTC (no daylight
 * saving) is the same as calendar days.
 */

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  /** The text the duration was parsed from, for rule labels such as "keep-within 30d". */
  text: string;
}

type Unit = 'y' | 'm' | 'w' | 'd' | 'h';

/** Largest unit first; each unit at most once, so "1y6m" has exactly one spelling. */
const UNIT_ORDER: readonly Unit[] = ['y', 'm', 'w', 'd', 'h'];

const UNIT_FIELD: Record<Unit, 'years' | 'months' | 'weeks' | 'days' | 'hours'> = {
  y: 'years',
  m: 'months',
  w: 'weeks',
  d: 'days',
  h: 'hours',
};

export const DURATION_FORMAT =
  'one or more <number><unit> parts, largest unit first, units y (years), m (months), w (weeks), ' +
  'd (days), h (hours); e.g. "30d", "12h", "2w", "1y6m" ("m" is months, as in restic)';

/** Roughly 10,000 years: anything longer is a typo, and JavaScript dates end at year 275760. */
const MAX_DAYS = 3_652_500;

export type DurationResult = { ok: true; duration: Duration } | { ok: false; message: string };

/** Parses without throwing: the zod schema uses this to report the problem on the right field. */
export function tryParseDuration(text: unknown): DurationResult {
  if (typeof text !== 'string') {
    return { ok: false, message: `expected a duration string (${DURATION_FORMAT}), got ${describe(text)}` };
  }
  const bad = (why: string): DurationResult => ({
    ok: false,
    message: `invalid duration ${JSON.stringify(text)}: ${why}; expected ${DURATION_FORMAT}`,
  });
  if (text.length === 0) return bad('it is empty');
  if (text.length > 40) return bad('it is too long');

  const duration: Duration = { years: 0, months: 0, weeks: 0, days: 0, hours: 0, text };
  const digitsAt = /\d+/y;
  let lastUnitIndex = -1;
  let pos = 0;
  while (pos < text.length) {
    digitsAt.lastIndex = pos;
    const digits = digitsAt.exec(text)?.[0];
    if (digits === undefined) {
      return bad(`unexpected ${JSON.stringify(text.charAt(pos))} at position ${pos + 1}`);
    }
    pos += digits.length;
    const unitText = text.charAt(pos);
    if (unitText === '') return bad(`the number ${digits} has no unit`);
    if (!/[a-zA-Z]/.test(unitText)) {
      return bad(
        `unexpected ${JSON.stringify(unitText)} at position ${pos + 1} (whole numbers and units only)`,
      );
    }
    const unitIndex = UNIT_ORDER.indexOf(unitText as Unit);
    if (unitIndex < 0) {
      const hint = UNIT_ORDER.includes(unitText.toLowerCase() as Unit) ? ' (units are lower case)' : '';
      return bad(`unknown unit ${JSON.stringify(unitText)}${hint}`);
    }
    if (unitIndex <= lastUnitIndex) return bad(`unit "${unitText}" is repeated or out of order`);
    lastUnitIndex = unitIndex;
    if (digits.length > 7) return bad(`the number ${digits} is too large`);
    duration[UNIT_FIELD[unitText as Unit]] = Number(digits);
    pos += 1;
  }

  const approxDays =
    duration.years * 365.25 +
    duration.months * 30.44 +
    duration.weeks * 7 +
    duration.days +
    duration.hours / 24;
  // A zero duration is refused: "deleteOlderThan: 0d" would make every backup a candidate,
  // which is far more likely a mistake than an intent.
  if (approxDays === 0) return bad('it must be longer than zero');
  if (approxDays > MAX_DAYS) return bad('it is longer than 10000 years');
  return { ok: true, duration };
}

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Parses a duration or throws a `DurationError` naming the value and the accepted format. */
export function parseDuration(text: string): Duration {
  const result = tryParseDuration(text);
  if (!result.ok) throw new DurationError(result.message);
  return result.duration;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * `now - duration`. Years and months move the UTC calendar month and clamp the day to the target
 * month's length (31 March - 1m = 29 February / 28 February), keeping the time of day. Go's AddDate,
 * which restic uses, would overflow into March instead; clamping keeps "1m" within one month.
 */
export function subtractDuration(now: Date, duration: Duration | string): Date {
  const d = typeof duration === 'string' ? parseDuration(duration) : duration;
  const t = now.getTime();
  if (Number.isNaN(t)) throw new RangeError('subtractDuration: `now` is not a valid date');

  const totalMonths = d.years * 12 + d.months;
  let ms = t;
  if (totalMonths > 0) {
    const monthIndex = now.getUTCFullYear() * 12 + now.getUTCMonth() - totalMonths;
    const year = Math.floor(monthIndex / 12);
    const month = monthIndex - year * 12;
    const day = Math.min(now.getUTCDate(), daysInMonth(year, month));
    const timeOfDay = t - utcMidnight(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    ms = utcMidnight(year, month, day) + timeOfDay;
  }
  ms -= (d.weeks * 7 + d.days) * DAY_MS + d.hours * HOUR_MS;
  return new Date(ms);
}

/** `now - duration` for a duration string; the cutoff time of keepWithin / deleteOlderThan. */
export function cutoffBefore(now: Date, duration: string): Date {
  return subtractDuration(now, parseDuration(duration));
}

function utcMidnight(year: number, month: number, day: number): number {
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date.getTime();
}

function daysInMonth(year: number, month: number): number {
  return (utcMidnight(year, month + 1, 1) - utcMidnight(year, month, 1)) / DAY_MS;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : `a ${typeof value}`;
}
