/**
 * What the provider saw of our deletions, per backup (simulator/delete-requests.ts): the evidence for
 * README "Guarantees" / "One deletion per backup". A repeat is a delete request for a backup that
 * arrives after the simulator accepted its deletion; whatever it was answered (busy, 404, accepted again),
 * the product sent it. `prefix` narrows to one account's keys, e.g. `vbs:${stack.scope('a')}:`.
 */
import assert from 'node:assert/strict';
import type { DeleteRequestCounts } from '../../simulator/delete-requests';
import type { Simulator } from '../../simulator/server';

function within<T>(all: Record<string, T>, prefix: string): Record<string, T> {
  return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(prefix)));
}

/** Every backup's delete requests by answer (accepted, busy, notFound, refused, faults, afterAcceptance). */
export function deleteRequests(sim: Simulator, prefix = ''): Record<string, DeleteRequestCounts> {
  return within(sim.ctx.counters.deleteRequests.snapshot(), prefix);
}

/** Backups that got delete requests after their deletion was accepted → how many. */
export function repeatsOf(sim: Simulator, prefix = ''): Record<string, number> {
  return within(sim.ctx.counters.deleteRequests.repeats(), prefix);
}

/** Total repeats over the matching backups. */
export function repeatCount(sim: Simulator, prefix = ''): number {
  return Object.values(repeatsOf(sim, prefix)).reduce((a, b) => a + b, 0);
}

/** No backup (under `prefix`) got a delete request after its deletion was accepted. */
export function assertNoRepeats(
  sim: Simulator,
  prefix = '',
  what = 'no delete request after acceptance',
): void {
  assert.deepEqual(
    repeatsOf(sim, prefix),
    {},
    `${what} (${prefix || 'all backups'}): ${describeRepeats(sim, prefix)}`,
  );
}

/**
 * At most `bound` repeats in all (a crash may lose the record of deletions in flight; each of those
 * may be sent once more, never more).
 */
export function assertRepeatsAtMost(sim: Simulator, bound: number, prefix = '', what = ''): void {
  const n = repeatCount(sim, prefix);
  assert.ok(
    n <= bound,
    `${what}${what ? ': ' : ''}${n} delete requests after acceptance, bound ${bound}: ${describeRepeats(sim, prefix)}`,
  );
}

/** `key: accepted a, then b busy / c 404 / d accepted again...` for every repeated backup, for failure messages. */
export function describeRepeats(sim: Simulator, prefix = ''): string {
  const all = deleteRequests(sim, prefix);
  const lines = Object.entries(all)
    .filter(([, c]) => c.afterAcceptance > 0)
    .map(
      ([k, c]) =>
        `${k}: ${c.afterAcceptance} after acceptance (${c.busyAfterAcceptance} busy, ${c.notFoundAfterAcceptance} 404, accepted ${c.accepted}x, ${c.faults} faults)`,
    );
  return lines.length ? lines.join('; ') : 'none';
}
