/**
 * README "Guarantees", Never repeated, in the worst window (found by the chaos run): a worker process
 * dies the moment Veeam creates the deletion session, before the answer with the session id reaches
 * the activity. The retry finds "requesting" and no session id; it must not post deleteBackups again (a
 * second session). It finds the session or watches the VM's restore points instead: gone, so the item
 * ends `deleted`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { startSlowLink, type SlowLink } from './helpers/slow-link';
import { spawnWorkerProcess, startStack, temporalAddress, type WorkerProcess } from './helpers/stack';

/**
 * One VM deleted by a worker that is SIGKILLed when the appliance creates the session; a second worker
 * (direct link) finishes the run. `slowLinkMs`: the first worker reaches Temporal through a link that
 * holds its bytes that long (and drops them when it dies).
 */
async function crashAtSessionCreation(vm: string, slowLinkMs?: number) {
  const stack = await startStack(
    { veeam: { provider: 'veeam' } },
    { worker: false, sim: { timings: { deleteMs: { veeam: 2_000 } } } },
  );
  const workers: WorkerProcess[] = [];
  let link: SlowLink | undefined;
  try {
    const scope = stack.scope('veeam');
    stack.sim.seed('veeam', scope, [
      { id: vm, restorePoints: [{ id: 'rp-1', pointInTime: '2025-01-01T00:00:00Z' }] },
    ]);
    if (slowLinkMs) link = await startSlowLink(temporalAddress(), slowLinkMs);
    const first = await spawnWorkerProcess(stack, {
      identity: `${vm}-worker-1`,
      ...(link ? { env: { TEMPORAL_ADDRESS: link.address } } : {}),
    });
    workers.push(first);
    // The moment the appliance creates the session, before its answer is written: the worker dies.
    const counters = stack.sim.ctx.counters;
    const bump = counters.bump.bind(counters);
    counters.bump = (map, key, by) => {
      bump(map, key, by);
      if (map === counters.sessionsPerVm && !first.child.killed) first.child.kill('SIGKILL');
    };
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const id = await rc.start({ items: [{ account: stack.account('veeam'), id: vm }], dryRun: false });
    assert.equal(await first.exited, 'SIGKILL');
    workers.push(await spawnWorkerProcess(stack, { identity: `${vm}-worker-2` }));
    const summary = await rc.result(id);
    const key = `veeam:${scope}:${vm}`;
    const seen = { sessions: counters.sessionsPerVm.get(key), posts: counters.deleteCalls.get(key) };
    console.log(`outcome ${JSON.stringify(summary.counts)}; ${JSON.stringify(seen)}`);
    return { summary, ...seen };
  } finally {
    for (const w of workers) await w.stop();
    await link?.close();
    await stack.stop();
  }
}

test('Veeam: crash between the accepted deleteBackups and its heartbeat must not start a second session', async () => {
  const r = await crashAtSessionCreation('vm-window-1');
  assert.equal(r.sessions, 1, 'one deletion session for the VM, never a second');
  assert.equal(r.posts, 1, 'deleteBackups was posted once');
  assert.deepEqual(r.summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 0, skipped: 0 });
});

// Found by the chaos run on a loaded machine: "requesting" was sent 300 ms before the POST, but had not
// reached the server when the worker died, so the retry found no record and posted a second session.
// Here the worker's link to Temporal holds every byte for 1.5 s: the POST must wait until the server
// has the record, whatever the link's speed.
test('Veeam: a slow link to Temporal: the POST waits until the server holds "requesting"; one session', async () => {
  const r = await crashAtSessionCreation('vm-slow-link-1', 1_500);
  assert.equal(r.sessions, 1, 'one deletion session for the VM, never a second');
  assert.deepEqual(r.summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 0, skipped: 0 });
});
