/**
 * The failure circuit breaker as a pure state machine (workflows/circuit-breaker.ts): it trips at the
 * threshold and not before, the window slides, only `failed` counts, half-open lets exactly one item
 * through, a good probe closes it, a failed probe re-opens it for another cool-down, and its state
 * survives the continue-as-new hand-over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { breakerThreshold, CircuitBreaker } from '../workflows/circuit-breaker';
import type { OutcomeKind } from '../contract/model';

const COOL = 60_000;
const cfg = { failureRate: 0.5, window: 4, coolDownMs: COOL };

/** Records outcomes at time `now` (keys k0, k1... unless given); returns the last event. */
function feed(cb: CircuitBreaker, kinds: OutcomeKind[], now = 0) {
  let last;
  for (const [i, k] of kinds.entries()) last = cb.record(k, now, `k${i}`, `why ${i}`);
  return last;
}

describe('circuit breaker', () => {
  test('threshold: ceil(rate × window), at least minFailures, robust to floating point', () => {
    assert.equal(breakerThreshold(cfg), 2);
    assert.equal(breakerThreshold({ ...cfg, failureRate: 0.3, window: 10 }), 3);
    assert.equal(breakerThreshold({ ...cfg, failureRate: 0.01, window: 20 }), 1);
    assert.equal(breakerThreshold({ ...cfg, failureRate: 1, window: 20 }), 20);
    assert.equal(breakerThreshold({ ...cfg, minFailures: 3 }), 3);
  });

  test('trips at the threshold and not before', () => {
    const cb = new CircuitBreaker({ failureRate: 0.5, window: 10, coolDownMs: COOL });
    // 4 failures among 10: below 5.
    assert.equal(
      feed(cb, ['failed', 'deleted', 'failed', 'deleted', 'failed', 'deleted', 'failed', 'deleted']),
      undefined,
    );
    assert.equal(cb.state(0), 'closed');
    assert.ok(cb.canStart(0));
    assert.equal(cb.status(0).recentFailures, 4);
    assert.equal(cb.status(0).threshold, 5);
    const ev = cb.record('failed', 1_000, 'x', 'ProviderRejected: HTTP 400');
    assert.equal(ev?.kind, 'tripped');
    assert.ok(ev?.kind === 'tripped');
    assert.equal(ev.failures, 5);
    assert.equal(ev.completed, 9);
    assert.equal(ev.openUntil, 1_000 + COOL);
    assert.match(
      ev.reason,
      /5 of the last 9 completed deletions failed \(threshold 50% of 10\); last: ProviderRejected: HTTP 400/,
    );
    assert.equal(cb.state(1_000), 'open');
    assert.equal(cb.canStart(1_000), false);
    assert.equal(cb.canStart(1_000 + COOL - 1), false);
    const st = cb.status(1_000);
    assert.equal(st.state, 'open');
    assert.equal(st.trips, 1);
    assert.equal(st.openUntil, new Date(1_000 + COOL).toISOString());
    assert.equal(st.trippedAt, new Date(1_000).toISOString());
  });

  test('only failed counts: blocked, absent and deleted are successes, skipped is not counted', () => {
    const cb = new CircuitBreaker(cfg);
    feed(cb, [
      'blocked',
      'blocked',
      'blocked',
      'absent',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
    assert.equal(cb.state(0), 'closed');
    assert.equal(cb.status(0).recentCompleted, 4, 'skipped never enters the window');
    assert.equal(cb.status(0).recentFailures, 0);
    assert.equal(cb.record('failed', 0, 'f1'), undefined, '1 of 4 failed: below 2');
    assert.equal(cb.record('failed', 0, 'f2')?.kind, 'tripped');
  });

  test('the window slides: old failures drop out', () => {
    const cb = new CircuitBreaker(cfg);
    // Failures spaced so that no 4 consecutive results hold 2 of them.
    for (let i = 0; i < 5; i++) {
      assert.equal(cb.record('failed', i, `f${i}`), undefined, `round ${i}`);
      feed(cb, ['deleted', 'deleted', 'deleted']);
      assert.equal(cb.status(i).recentFailures, 1, 'the previous failure slid out of the window of 4');
    }
    assert.equal(cb.state(10), 'closed');
    // Now two within the window.
    cb.record('failed', 10, 'a');
    assert.equal(cb.record('failed', 10, 'b')?.kind, 'tripped');
  });

  test('half-open lets exactly one through; its success closes and clears the window', () => {
    const cb = new CircuitBreaker(cfg);
    feed(cb, ['failed', 'failed'], 0);
    assert.equal(cb.state(COOL - 1), 'open');
    assert.equal(cb.state(COOL), 'half-open');
    assert.ok(cb.canStart(COOL));
    cb.started('probe', COOL);
    assert.equal(cb.canStart(COOL), false, 'only one probe');
    assert.equal(cb.canStart(COOL * 5), false, 'still only one, however long the probe takes');
    assert.equal(cb.state(COOL + 1), 'half-open');
    // An item started before the trip finishing now does not decide anything.
    assert.equal(cb.record('failed', COOL + 1, 'old-item'), undefined);
    assert.equal(cb.canStart(COOL + 1), false);
    assert.deepEqual(cb.record('deleted', COOL + 2, 'probe'), { kind: 'closed' });
    assert.equal(cb.state(COOL + 2), 'closed');
    assert.ok(cb.canStart(COOL + 2));
    assert.equal(cb.status(COOL + 2).recentCompleted, 0, 'the window starts afresh');
    assert.equal(cb.record('failed', COOL + 3, 'n1'), undefined, 'one new failure does not trip it again');
    assert.equal(cb.status(COOL + 3).trips, 1);
  });

  test('a failed probe re-opens it for another cool-down', () => {
    const cb = new CircuitBreaker(cfg);
    feed(cb, ['failed', 'failed'], 0);
    cb.started('probe', COOL + 5);
    const ev = cb.record('failed', COOL + 10, 'probe', 'still broken');
    assert.equal(ev?.kind, 'reopened');
    assert.equal(ev?.kind === 'reopened' && ev.openUntil, 2 * COOL + 10);
    assert.match(cb.status(COOL + 10).reason ?? '', /probe after the cool-down failed: still broken/);
    assert.equal(cb.state(COOL + 10), 'open');
    assert.equal(cb.canStart(2 * COOL + 9), false);
    assert.ok(cb.canStart(2 * COOL + 10));
    assert.equal(cb.status(0).trips, 2);
  });

  test('blocked probe closes it: the provider answered on purpose', () => {
    const cb = new CircuitBreaker(cfg);
    feed(cb, ['failed', 'failed'], 0);
    cb.started('probe', COOL);
    assert.deepEqual(cb.record('blocked', COOL, 'probe'), { kind: 'closed' });
  });

  test('minFailures raises the bar', () => {
    const cb = new CircuitBreaker({ failureRate: 0.1, window: 10, coolDownMs: COOL, minFailures: 3 });
    assert.equal(feed(cb, ['failed', 'failed']), undefined);
    assert.equal(cb.record('failed', 0, 'third')?.kind, 'tripped');
  });

  test('carried across continue-as-new: an open breaker stays open, the window is kept', () => {
    const cb = new CircuitBreaker(cfg);
    feed(cb, ['deleted', 'failed', 'failed'], 500);
    const carried = JSON.parse(JSON.stringify(cb.carry())) as ReturnType<CircuitBreaker['carry']>;
    const next = new CircuitBreaker(cfg, carried);
    assert.equal(next.state(600), 'open');
    assert.equal(next.canStart(500 + COOL - 1), false);
    assert.ok(next.canStart(500 + COOL));
    assert.deepEqual(next.status(600), cb.status(600));

    const closed = new CircuitBreaker(cfg);
    feed(closed, ['failed', 'deleted', 'deleted']);
    const again = new CircuitBreaker(cfg, closed.carry());
    assert.equal(again.record('failed', 0, 'z')?.kind, 'tripped', 'the carried failure still counts');
  });

  test('a smaller window from a config change cuts the samples', () => {
    const cb = new CircuitBreaker({ failureRate: 0.5, window: 10, coolDownMs: COOL });
    feed(cb, ['failed', 'failed', 'failed', 'deleted', 'deleted']);
    cb.configure({ failureRate: 0.5, window: 2, coolDownMs: COOL });
    assert.equal(cb.status(0).recentCompleted, 2);
    assert.equal(cb.status(0).recentFailures, 0);
    assert.equal(cb.record('failed', 0, 'x')?.kind, 'tripped', '1 of the last 2');
  });
});
