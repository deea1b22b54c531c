/**
 * Promise 3, for real: a worker PROCESS killed (SIGKILL) between Veeam's non-idempotent deleteBackups
 * POST and the first poll must not start a second session. The retried attempt, on a second worker
 * process, resumes the recorded session from heartbeat details and confirms the deletion. (A kill
 * before the session id is recorded is test/veeam-crash-window.test.ts.)
 *
 * Takes ~40-50 s: the retry comes only after the activity's heartbeat timeout (30 s minimum).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { RetentionClient } from '../client/retention-client';
import type { VeeamSim } from '../simulator/veeam';
import { laneWorkflowId } from '../contract/ids';
import { spawnWorkerProcess, startStack, type Stack, type WorkerProcess } from './helpers/stack';

const VM = 'vm-crash-1';

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  workers: WorkerProcess[],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const logs = workers
        .map((w, i) => `--- worker ${i + 1} ---\n${w.stderrTail().slice(-4000)}`)
        .join('\n');
      assert.fail(`timed out waiting for ${what}\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Veeam: worker killed between deleteBackups and the first poll', () => {
  let stack: Stack;
  const workers: WorkerProcess[] = [];
  const spawnWorker = async (identity: string): Promise<WorkerProcess> => {
    const w = await spawnWorkerProcess(stack, { identity });
    workers.push(w);
    return w;
  };

  before(async () => {
    stack = await startStack(
      // A long poll interval: the first poll comes ~10 s after the POST, and the heartbeat timeout is 30 s.
      { veeam: { provider: 'veeam', limits: { pollInterval: '10s' } } },
      { worker: false, sim: { timings: { deleteMs: { veeam: 8_000 } } } },
    );
  });

  after(async () => {
    for (const w of workers) await w.stop();
    await stack.stop();
  });

  test('the second worker resumes the first session: deleted, one session for the VM', async () => {
    const scope = stack.scope('veeam');
    const account = stack.account('veeam');
    const veeam = stack.sim.provider('veeam') as VeeamSim;
    const sessionKey = `veeam:${scope}:${VM}`;
    stack.sim.seed('veeam', scope, [
      {
        id: VM,
        restorePoints: [
          { id: 'rp-1', pointInTime: '2025-01-01T00:00:00Z' },
          { id: 'rp-2', pointInTime: '2025-02-01T00:00:00Z' },
        ],
      },
    ]);

    const first = await spawnWorker('crash-worker-1');
    const rc = new RetentionClient(stack.client, stack.taskQueue);
    const runId = await rc.start({ items: [{ account, id: VM }], dryRun: false });

    // 1. The appliance has seen the POST: one session, running.
    await until(
      'the deleteBackups POST',
      () => stack.sim.ctx.counters.sessionsPerVm.get(sessionKey) === 1 || undefined,
      90_000,
      workers,
    );
    const [session] = veeam.sessions(scope);
    assert.ok(session, 'one session exists');
    assert.equal(session.status, 'Running');

    // 2. The session id is recorded on the server (heartbeat details of the pending deletion).
    const lane = stack.client.workflow.getHandle(laneWorkflowId(account));
    const recorded = await until(
      'the session id in heartbeat details',
      async () => {
        const d = await lane.describe();
        const payload = d.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
        if (!payload) return undefined;
        const d2 = defaultPayloadConverter.fromPayload<{ phase: string; handle: Record<string, string> }>(
          payload as never,
        );
        // First "requesting" (recorded before the POST), then, within the worker's 2 s heartbeat
        // throttle, the session id.
        return d2.phase === 'accepted' ? d2 : undefined;
      },
      10_000,
      workers,
    );
    assert.deepEqual(recorded, { phase: 'accepted', handle: { sessionId: session.id } });

    // 3. Killed before its first poll.
    assert.equal(
      veeam.sessionPolls.get(`${scope}:${VM}`) ?? 0,
      0,
      'no poll yet: the kill falls between the POST and the first poll',
    );
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');

    // 4. A second worker process picks the retried attempt up after the heartbeat timeout.
    await spawnWorker('crash-worker-2');
    const summary = await rc.result(runId);
    const outcomes = [];
    for await (const o of rc.report(runId)) outcomes.push(o);

    assert.deepEqual(summary.counts, { deleted: 1, absent: 0, blocked: 0, failed: 0, skipped: 0 });
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]!.outcome, 'deleted');
    assert.equal(
      stack.sim.ctx.counters.sessionsPerVm.get(sessionKey),
      1,
      'one deletion session for the VM, never a second',
    );
    assert.equal(stack.sim.ctx.counters.deleteCalls.get(sessionKey), 1, 'one deleteBackups call in all');
    assert.ok(
      (veeam.sessionPolls.get(`${scope}:${VM}`) ?? 0) >= 1,
      'the second worker polled the first session',
    );
    assert.deepEqual(
      veeam.sessions(scope).map((s) => [s.id, s.status]),
      [[session.id, 'Success']],
    );
    assert.deepEqual((veeam.list(scope) as Array<{ restorePoints: unknown[] }>)[0]?.restorePoints, []);

    // Stop the second worker cleanly.
    await workers[1]!.stop();
  });
});
