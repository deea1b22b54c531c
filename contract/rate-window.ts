/**
 * The per-account request rate (`limits.requestsPerSecond`) as a sliding window of start times: at most
 * `burst` delete calls within `burst / requestsPerSecond` seconds. Shared by the lane (which admits
 * items) and a pipelined deletion group (which starts the items the lane handed it), so both count
 * starts the same way. Deterministic given its inputs: safe in workflow code.
 */
export function burstOf(requestsPerSecond: number): number {
  return Math.max(1, Math.floor(requestsPerSecond));
}

/**
 * Milliseconds until one more start is allowed (0 = now). Drops start times that left the window from
 * the front of `recentStarts` (kept in ascending order by the callers).
 */
export function rateWaitMs(recentStarts: number[], requestsPerSecond: number, now: number): number {
  const burst = burstOf(requestsPerSecond);
  const windowMs = (burst / requestsPerSecond) * 1000;
  while (recentStarts.length && recentStarts[0]! <= now - windowMs) recentStarts.shift();
  return recentStarts.length < burst ? 0 : recentStarts[0]! + windowMs - now;
}
