/**
 * README "Guarantees", The report never contradicts the provider and Never repeated (issue 13 item 2): a worker process dies while its
 * deleteBackups is on the way, and the appliance never got it (the connection dropped before the
 * appliance saw it). The retry finds "requesting" and no session id. Before, it watched the VM's restore
 * points for a minute and ended `failed` (UnansweredRequest) for a person to check. Now it asks the
 * appliance: no BackupDeletion session of the VM since the record, so it posts once, and the item is
 * `deleted` with exactly one session. Beside it, a VM whose POST the appliance did get (the worker dies
 * the moment the session is created): its session is found and resumed, never a second one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { spawnWorkerProcess, startStack, type WorkerProcess } from './helpers/stack';

test('Veeam: a crash leaves it unknown whether deleteBackups was posted; the appliance is asked, one session per VM, no manual check', async () => {
  const stack = await startStack(
    {
      lost: { provider: 'veeam', limits: { maxConcurrent: 1 } },
      got: { provider: 'veeam', limits: { maxConcurrent: 1 } },
    },
    { worker: false, sim: { timings: { deleteMs: { veeam: 1_000 } } } },
  );
  const workers: WorkerProcess[] = [];
  try {
    const lost = { account: stack.account('lost'), scope: stack.scope('lost'), vm: 'vm-never-posted' };
    const got = { account: stack.account('got'), scope: stack.scope('got'), vm: 'vm-posted' };
    for (const a of [lost, got])
      stack.sim.seed('veeam', a.scope, [
        { id: a.vm, restorePoints: [{ id: `rp-${a.vm}`, pointInTime: '2025-01-01T00:00:00Z' }] },
      ]);
    // The first POST of `lost` never reaches the appliance: the connection is reset in front of it.
    stack.sim.setFaults([
      {
        provider: 'veeam',
        method: 'POST',
        path: `^/${lost.scope}/api/v1/virtualMachines/.*/deleteBackups$`,
        times: 1,
        fault: { kind: 'reset' },
      },
    ]);
    const first = await spawnWorkerProcess(stack, { identity: 'veeam-unanswered-1' });
    workers.push(first);
    // The worker dies once both requests are out: `lost`'s dropped, `got`'s turned into a session.
    const counters = stack.sim.ctx.counters;
    const record = counters.deleteRequest.bind(counters);
    const seen = new Set<string>();
    counters.deleteRequest = (key, answer) => {
      record(key, answer);
      if (key.includes(lost.scope) && answer === 'fault') seen.add('lost');
      if (key.includes(got.scope) && answer === 'accepted') seen.add('got');
      if (seen.size === 2 && !first.child.killed) first.child.kill('SIGKILL');
    };

    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const id = await rc.start({
      items: [
        { account: lost.account, id: lost.vm },
        { account: got.account, id: got.vm },
      ],
      dryRun: false,
    });
    assert.equal(await first.exited, 'SIGKILL');
    counters.deleteRequest = record;
    workers.push(await spawnWorkerProcess(stack, { identity: 'veeam-unanswered-2' }));
    const summary = await rc.result(id);
    const report = [];
    for await (const x of rc.report(id)) report.push(x);
    const lostKey = `veeam:${lost.scope}:${lost.vm}`;
    const gotKey = `veeam:${got.scope}:${got.vm}`;
    console.log(
      `${JSON.stringify(summary.counts)}; sessions ${counters.sessionsPerVm.get(lostKey)} / ${counters.sessionsPerVm.get(gotKey)}; ${report.map((x) => `${x.id}: ${x.outcome} (${x.reason})`).join('; ')}`,
    );
    assert.deepEqual(summary.counts, { deleted: 2, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assert.equal(
      counters.sessionsPerVm.get(lostKey),
      1,
      'the VM whose POST was lost: posted once more, one session',
    );
    assert.equal(
      counters.sessionsPerVm.get(gotKey),
      1,
      'the VM whose POST got through: its session resumed, no second',
    );
    assert.equal(counters.deleteCalls.get(gotKey), 1, 'deleteBackups was posted once for the VM that got it');
    // Both VMs' restore points are gone (the appliance keeps the VM itself).
    const points = (scope: string) =>
      (stack.sim.provider('veeam').list(scope) as { restorePoints: unknown[] }[]).flatMap(
        (v) => v.restorePoints,
      );
    assert.deepEqual(points(lost.scope), []);
    assert.deepEqual(points(got.scope), []);
  } finally {
    for (const w of workers) await w.stop();
    await stack.stop();
  }
});
