/**
 * Promise 3 in the worst window (found by the chaos run): a worker process dies the moment Veeam
 * creates the deletion session, before the answer with the session id reaches the activity. The retry
 * finds "requesting" and no session id; it must not post deleteBackups again (a second session). It
 * asks the appliance for the VM's BackupDeletion sessions since the record (issue 13 item 2), finds the
 * one the lost answer named and observes it: the item ends `deleted`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { spawnWorkerProcess, startStack, type WorkerProcess } from './helpers/stack';

test('Veeam: crash between the accepted deleteBackups and its heartbeat must not start a second session', async () => {
  const stack = await startStack({ veeam: { provider: 'veeam' } }, { worker: false, sim: { timings: { deleteMs: { veeam: 2_000 } } } });
  const workers: WorkerProcess[] = [];
  try {
    const scope = stack.scope('veeam');
    const vm = 'vm-window-1';
    stack.sim.seed('veeam', scope, [{ id: vm, restorePoints: [{ id: 'rp-1', pointInTime: '2025-01-01T00:00:00Z' }] }]);
    const first = await spawnWorkerProcess(stack, { identity: 'window-worker-1' });
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
    workers.push(await spawnWorkerProcess(stack, { identity: 'window-worker-2' }));
    const summary = await rc.result(id);
    const key = `veeam:${scope}:${vm}`;
    console.log(`outcome ${JSON.stringify(summary.counts)}; sessionsPerVm ${counters.sessionsPerVm.get(key)}; deleteCalls ${counters.deleteCalls.get(key)}`);
    assert.equal(counters.sessionsPerVm.get(key), 1, 'one deletion session for the VM, never a second');
    assert.equal(counters.deleteCalls.get(key), 1, 'deleteBackups was posted once');
    assert.deepEqual(summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 0, skipped: 0 });
  } finally {
    for (const w of workers) await w.stop();
    await stack.stop();
  }
});
