/**
 * README "Guarantees", The report never contradicts the provider (issue 13 item 1, "Deleted is deleted"): a worker process dies while deletions are
 * in flight, the moment the provider accepts them and before their answers reach the activity. The
 * retries find the backups gone; since the deletions recorded "requesting" before their requests went
 * out, the report says `deleted` (the acknowledgement was lost), never `absent` (gone before we asked).
 *
 * Two paths: a group of items of one account (deleteBackups) and an item alone (deleteBackup). The
 * simulator answers deletes after 300 ms of network latency, as a provider across a network does, so
 * the worker's "requesting" heartbeat (sent at once) reaches the server before the provider acts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionClient } from '../client/retention-client';
import { assertNoRepeats } from './helpers/deletes';
import { assertOneOutcomeEach, reportOf, resultWithin } from './helpers/runs';
import { spawnWorkerProcess, startStack, vbsBackups, type WorkerProcess } from './helpers/stack';

test('worker SIGKILL when the provider accepts in-flight deletes: every accepted item is reported deleted, never absent', async () => {
  const stack = await startStack(
    {
      grp: { provider: 'vbs', limits: { maxConcurrent: 6, pollInterval: '200ms' } },
      one: { provider: 'vbs', limits: { maxConcurrent: 1, pollInterval: '200ms' } },
    },
    { worker: false, sim: { timings: { deleteMs: { vbs: 1_000 } } } },
  );
  const workers: WorkerProcess[] = [];
  try {
    const grp = { account: stack.account('grp'), scope: stack.scope('grp') };
    const one = { account: stack.account('one'), scope: stack.scope('one') };
    const grpBackups = vbsBackups(6, 'grp');
    const oneBackups = vbsBackups(1, 'one');
    stack.sim.seed('vbs', grp.scope, grpBackups);
    stack.sim.seed('vbs', one.scope, oneBackups);
    stack.sim.setFaults([{ provider: 'vbs', method: 'DELETE', fault: { kind: 'latency', ms: 300 } }]);

    const first = await spawnWorkerProcess(stack, { identity: 'ack-lost-worker-1' });
    workers.push(first);
    // The worker dies in the middle of the provider accepting: once both accounts have an accepted
    // delete, before any answer is written back.
    const counters = stack.sim.ctx.counters;
    const bump = counters.bump.bind(counters);
    const acceptedBeforeKill = new Set<string>();
    counters.bump = (map, key, by) => {
      bump(map, key, by);
      if (map !== counters.acceptedDeletes || first.child.killed) return;
      acceptedBeforeKill.add(key);
      const keys = [...acceptedBeforeKill];
      if (keys.some((k) => k.includes(grp.scope)) && keys.some((k) => k.includes(one.scope)))
        first.child.kill('SIGKILL');
    };

    const items = [
      ...grpBackups.map((b) => ({ account: grp.account, id: b.id })),
      ...oneBackups.map((b) => ({ account: one.account, id: b.id })),
    ];
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const runId = await rc.start({ items, dryRun: false, label: 'ack lost' });
    assert.equal(await first.exited, 'SIGKILL');
    const killedAt = Date.now();
    counters.bump = bump;
    workers.push(await spawnWorkerProcess(stack, { identity: 'ack-lost-worker-2' }));
    // Every delete that reached the simulator before the new worker (the last ones after the kill,
    // once the 300 ms passed): the ones whose answers were lost. The retries come after the heartbeat
    // timeout, so none of these is theirs.
    const acceptedAtKill = Object.keys(counters.snapshot().acceptedDeletes).length;

    const summary = await resultWithin(rc, runId, 180_000);
    const byKey = assertOneOutcomeEach(await reportOf(rc, runId), items);
    const accepted = stack.sim.ctx.counters.snapshot().acceptedDeletes;
    console.log(
      `accepted before the kill: ${acceptedBeforeKill.size}, before the new worker: ${acceptedAtKill}; ${JSON.stringify(summary.counts)}`,
    );
    assert.ok(acceptedBeforeKill.size >= 2, 'deletions were accepted when the worker died');
    for (const [key, o] of byKey) {
      const scope = o.account === grp.account ? grp.scope : one.scope;
      const simKey = `vbs:${scope}:${o.id}`;
      assert.ok(accepted[simKey], `${key}: the provider accepted its delete`);
      assert.equal(
        o.outcome,
        'deleted',
        `${key}: ${o.outcome} (${o.reason}) although our delete was accepted`,
      );
      if (acceptedBeforeKill.has(simKey)) {
        assert.match(o.reason, /acknowledgement was lost|confirmed the deletion/, `${key}: ${o.reason}`);
        // The report line says which attempt decided it and when (issue 13 item 3): a retry, after the kill.
        const decided = /^(deleteBackups?) attempt (\d+), (\S+)$/.exec(o.decidedBy ?? '');
        assert.ok(decided, `${key}: decidedBy ${o.decidedBy}`);
        assert.ok(Number(decided[2]) >= 2, `${key}: decided by ${o.decidedBy}, not a retry`);
        assert.ok(Date.parse(decided[3]!) >= killedAt, `${key}: decided at ${decided[3]}, before the kill`);
      }
    }
    assert.deepEqual(summary.counts, { deleted: 7, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    // The retries come after the deletions ended: each looks first and finds the backup gone, so no
    // delete is sent again (README "Guarantees": One deletion per backup).
    assert.ok(acceptedAtKill >= 2);
    assertNoRepeats(stack.sim, 'vbs:', 'no delete request after acceptance, though the answers were lost');
    assert.deepEqual(stack.sim.provider('vbs').list(grp.scope), []);
    assert.deepEqual(stack.sim.provider('vbs').list(one.scope), []);
  } finally {
    for (const w of workers) await w.stop();
    await stack.stop();
  }
});
