/**
 * The one parser of the durations people write in the worker config ("500ms", "5s", "2h"), schedule
 * options ("90s", "7d") and a request's approval timeout ("24h", "2w"): a number and a unit. Each place
 * says which units it takes (a poll interval in days is a mistake, an approval in milliseconds too).
 * Retention ages ("30d", "6 months") are calendar durations: policy/duration.ts. Pure: safe in workflows.
 */
export const DURATION_UNIT_MS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;
export type DurationUnit = keyof typeof DURATION_UNIT_MS;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** Milliseconds (rounded) of a duration such as "90s"; NaN when it is not one or its unit is not in `units`. */
export function durationMs(text: string, units: readonly DurationUnit[]): number {
  const m = DURATION.exec(text);
  if (!m || !units.includes(m[2] as DurationUnit)) return NaN;
  return Math.round(Number(m[1]) * DURATION_UNIT_MS[m[2] as DurationUnit]);
}
