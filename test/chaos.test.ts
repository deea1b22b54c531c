/**
 * The chaos run, reduced (the full one is `npm run chaos`, bench/chaos.ts): 300 items over 10 accounts
 * covering all five providers, 20% transient 5xx, 5% 429 with Retry-After, latency jitter; one SIGKILL
 * of the worker process and one SIGKILL + restart of the Temporal dev server on its SQLite file.
 *
 * It runs its OWN dev server (persistent SQLite in a temp dir, its own free port) beside the suite's
 * shared one, and its worker as a child process. Every requested item must end with exactly one outcome
 * true to the provider's state, nothing outside the request is touched, no backup is accepted for
 * deletion twice (Veeam: one session per VM), and no account goes above its concurrency limit.
 * Meanwhile a twin run asks for the same Veeam VMs again (some twice, in an addItems page) and another
 * run is cancelled through Temporal mid-way (bench/chaos-misuse.ts).
 * About 1.5 minutes, mostly the 30 s heartbeat timeout after the kill.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderChaos, runChaos } from '../bench/chaos';

test('chaos: worker SIGKILL and dev server restart under 25% provider faults: one true outcome per item, limits hold', async () => {
  const r = await runChaos({
    items: 300,
    accounts: 10,
    workerKillsAt: [0.3],
    serverRestartsAt: [0.6],
    // Slow enough that deletions are in flight at each event, short enough for the suite.
    deleteMs: 1_200,
    timeoutMs: 8 * 60_000,
    log: (m) => console.log(`[chaos] ${m}`),
  });
  console.log(renderChaos(r));
  assert.deepEqual(r.failures, []);
  // The chaos did happen, and the figures the table shows are the ones asserted.
  assert.deepEqual(
    r.events.map((e) => e.kind),
    ['worker SIGKILL', 'dev server SIGKILL + restart'],
  );
  assert.equal(r.exactlyOnce, 300);
  assert.equal(r.lost, 0);
  assert.equal(r.providers.length, 5);
  assert.equal(r.deleteCallsOutsideRequest, 0);
  assert.equal(r.notRequestedSurvivors, r.notRequested);
  // Misuse meanwhile: the same Veeam VMs from a twin run (and twice in its page) still get one session
  // each; a run cancelled through Temporal gets no deletion accepted after its group window.
  assert.equal(r.veeamVmsWithSecondSession, 0);
  assert.ok(r.misuse.twinItems > 0, 'the twin run asked for Veeam VMs');
  assert.deepEqual(r.misuse.twinProblems, []);
  assert.ok(r.misuse.cancelAtS !== undefined, 'the cancel was sent');
  assert.deepEqual(r.misuse.acceptedAfterCancelWindow, []);
  assert.ok(r.misuse.cancelledSkipped > 0, 'the cancel left items never started');
  // Repeats (delete requests after acceptance, answered busy or 404 as often as accepted) only where a
  // crash may have lost the record of a deletion in flight: at most one per such deletion.
  assert.ok(r.repeats <= r.repeatBound, `${r.repeats} repeats, bound ${r.repeatBound}`);
  for (const a of r.perAccount)
    assert.ok(a.observedMaxConcurrent <= a.limit, `${a.account}: ${a.observedMaxConcurrent} > ${a.limit}`);
  assert.ok(Object.values(r.faultHits).reduce((s, n) => s + n, 0) > 0, 'faults were injected');
});
